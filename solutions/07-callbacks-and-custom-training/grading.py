"""Hidden tests of lesson 07: a learning-rate schedule factory, a callback, and custom losses.

The schedule the factory returns stays in the student's kernel and is called through its
Handle; the callback and the losses are used there by drivers (calling the callback's hooks
on a small compiled model as `fit` would, training with the losses) that return data only.
Every value is judged here, against the formulas and Keras's InverseTimeDecay.
"""

import keras
import numpy as np

from autograder.hidden import close, driver, equal, integer, number, shape, test, true
from autograder.student import Handle, Ref

# ----------------------------------------------------------------- exercise 1: a scheduler function


@driver
def drive_scheduler(schedule, lr0, epochs):
    """Which of schedule(epoch, lr)'s values are Python floats, and the optimizer's rate when
    keras.callbacks.LearningRateScheduler(schedule) drives an SGD(lr0) model, epoch by epoch."""
    import keras

    floats = [isinstance(schedule(epoch, 123.0), float) for epoch in epochs]
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr0), loss="mse")
    callback = keras.callbacks.LearningRateScheduler(schedule)
    callback.set_model(model)
    rates = []
    for epoch in range(4):
        callback.on_epoch_begin(epoch)
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    return {"floats": floats, "rates": rates}


def _schedule(student, lr0, decay):
    schedule = student.call("make_inverse_time_schedule", lr0, decay)
    true(
        isinstance(schedule, Handle),
        "make_inverse_time_schedule should return a function (define schedule(epoch, lr) inside it and return it)",
    )
    return schedule


@test("test_scheduler")
def schedule_is_inverse_time_decay(student, rng):
    schedule = _schedule(student, 0.1, 0.5)
    close(
        [number(student.call(schedule, e, 0.1), f"schedule({e}, 0.1)") for e in range(4)],
        [0.1, 0.0666667, 0.05, 0.04],
        "make_inverse_time_schedule(0.1, 0.5) for epochs 0..3",
    )
    close(student.call(_schedule(student, 0.01, 0.0), 10, 0.01), 0.01, "decay 0 keeps the rate")
    epochs = [0, 1, 2, 7, 30]
    for lr0, decay in [
        (0.2, 0.1),
        (1e-3, 1.0),
        (0.05, 0.0),
        (0.5, 0.37),
        (float(rng.uniform(1e-4, 1.0)), float(rng.uniform(0.0, 2.0))),
    ]:
        schedule = _schedule(student, lr0, decay)
        reference = keras.optimizers.schedules.InverseTimeDecay(lr0, decay_steps=1, decay_rate=decay)
        case = f"make_inverse_time_schedule({lr0:.4g}, {decay:.4g})"
        for epoch in epochs:
            value = number(student.call(schedule, epoch, 123.0), f"{case}: schedule({epoch}, lr)")  # lr must not matter
            close(value, lr0 / (1 + decay * epoch), f"{case}: schedule({epoch}, lr)", rtol=1e-9)
            close(
                value,
                float(keras.ops.convert_to_numpy(reference(epoch))),
                f"{case}: schedule({epoch}, lr) vs keras InverseTimeDecay",
                rtol=1e-5,
            )
        reply = student.run(drive_scheduler, schedule, lr0, epochs)
        true(all(reply["floats"]), f"{case}: schedule(epoch, lr) should return a Python float")
        # driven through the real callback, with no training
        close(
            reply["rates"],
            [lr0 / (1 + decay * epoch) for epoch in range(4)],
            f"{case}: the optimizer's rate at epochs 0..3 via LearningRateScheduler",
            rtol=1e-5,
        )


# ---------------------------------------------------------------- exercise 2: a callback of your own


@driver
def drive_stopper(TargetStopper, init_kwargs, runs):
    """One TargetStopper(**init_kwargs) through several runs, its hooks called as fit would.

    Each run is {"learning_rate": lr, "logs": [logs of epoch 0, 1, ...], "rates": None or the
    optimizer's rate to set before each epoch}, on a fresh compiled model; the run stops when
    the model asks to. Returns what the callback and the model hold after each run.
    """
    import keras

    stopper = TargetStopper(**init_kwargs)
    out = []
    for run in runs:
        model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=run["learning_rate"]), loss="mse")
        stopper.set_model(model)
        model.stop_training = False
        stopper.on_train_begin()
        epochs = 0
        for epoch, logs in enumerate(run["logs"]):
            if run["rates"] is not None:
                model.optimizer.learning_rate = run["rates"][epoch]
            stopper.on_epoch_begin(epoch)
            stopper.on_epoch_end(epoch, dict(logs))
            epochs += 1
            if model.stop_training:
                break
        stopper.on_train_end()
        rates = list(stopper.learning_rates)
        out.append(
            {
                "stop_training": bool(model.stop_training),
                "stopped_epoch": stopper.stopped_epoch,
                "epochs": epochs,
                "learning_rates": rates,
                "floats": [isinstance(r, float) for r in rates],
            }
        )
    return out


@driver
def fit_with_stopper(TargetStopper, init_kwargs, epochs):
    """model.fit with a TargetStopper, seed 0, on a tiny compiled model; what fit and the callback report."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    stopper = TargetStopper(**init_kwargs)
    history = model.fit(
        np.ones((8, 3), "float32"), np.zeros((8, 2), "float32"), epochs=epochs, verbose=0, callbacks=[stopper]
    )
    return {
        "epochs_run": len(history.history["loss"]),
        "learning_rates": list(stopper.learning_rates),
        "stopped_epoch": stopper.stopped_epoch,
    }


def _run(lr, logs, rates=None):
    return {"learning_rate": lr, "logs": logs, "rates": rates}


def _stopped(got, expected, what):
    if expected is None:
        true(got is None, f"{what}: stopped_epoch should be None when training was not stopped")
    else:
        equal(integer(got, what), expected, what)


@test("test_target_stopper")
def target_stopper_stops_and_records(student, rng):
    # the visible cases: mode "max" on val_accuracy, then the same object in a second run without the key
    first, second = student.run(
        drive_stopper,
        Ref("TargetStopper"),
        {"monitor": "val_accuracy", "target": 0.8},
        [
            _run(0.01, [{"val_accuracy": 0.5}, {"val_accuracy": 0.79}, {"val_accuracy": 0.81}, {"val_accuracy": 0.9}]),
            _run(0.05, [{"val_loss": 0.3}, {"val_loss": 0.2}]),
        ],
    )
    true(first["stop_training"], "TargetStopper should set self.model.stop_training = True when the target is reached")
    _stopped(first["stopped_epoch"], 2, "stopped_epoch with val_accuracy 0.5, 0.79, 0.81, 0.9 and target 0.8")
    close(first["learning_rates"], [0.01, 0.01, 0.01], "learning_rates of that run (append the rate every epoch)")
    _stopped(
        second["stopped_epoch"],
        None,
        "a second run where the monitored key is missing (reset it in "
        "on_train_begin; do not stop without the monitored value)",
    )
    close(
        second["learning_rates"], [0.05, 0.05], "learning_rates in a second run (start a fresh list in on_train_begin)"
    )

    # mode="min" on a loss, with a learning rate that changes between epochs
    values = [0.9, 0.5, 0.3, 0.25, 0.1]
    rates = [0.1 / (1 + epoch) for epoch in range(len(values))]
    (run,) = student.run(
        drive_stopper,
        Ref("TargetStopper"),
        {"monitor": "val_loss", "target": 0.25, "mode": "min"},
        [_run(0.1, [{"val_loss": v, "loss": v / 2} for v in values], rates)],
    )
    _stopped(run["stopped_epoch"], 3, "stopped_epoch with mode='min' (0.25 <= 0.25 at epoch 3)")
    true(run["stop_training"], "with mode='min', reaching the target should set stop_training")
    close(run["learning_rates"], rates[:4], "learning_rates as the rate changes", rtol=1e-5)
    true(all(run["floats"]), "learning_rates should hold Python floats")

    # a target never reached: no stop, one rate per epoch
    (run,) = student.run(
        drive_stopper,
        Ref("TargetStopper"),
        {"monitor": "accuracy", "target": 0.99},
        [_run(0.02, [{"accuracy": a} for a in [0.5, 0.6, 0.7, 0.8, 0.98]])],
    )
    true(not run["stop_training"], "a target never reached must not stop training")
    _stopped(run["stopped_epoch"], None, "a target never reached")
    equal(len(run["learning_rates"]), 5, "the number of recorded rates in 5 epochs")

    # exactly at the target with mode max
    (run,) = student.run(
        drive_stopper,
        Ref("TargetStopper"),
        {"monitor": "val_accuracy", "target": 0.75},
        [_run(0.01, [{"val_accuracy": 0.75}, {"val_accuracy": 0.9}])],
    )
    _stopped(run["stopped_epoch"], 0, "reaching the target exactly counts (>=)")

    # new targets and values: the first epoch that reaches the target, in both modes
    for mode in ("max", "min"):
        target = float(rng.uniform(0.3, 0.7))
        n = int(rng.integers(4, 9))
        reach = int(rng.integers(1, n))
        far = rng.uniform(0.05, 0.25, size=n)
        series = target - far if mode == "max" else target + far
        series[reach:] = target + far[reach:] * (1 if mode == "max" else -1)
        lr = float(rng.uniform(0.001, 0.1))
        (run,) = student.run(
            drive_stopper,
            Ref("TargetStopper"),
            {"monitor": "val_metric", "target": target, "mode": mode},
            [_run(lr, [{"val_metric": float(v), "other": 0.0} for v in series])],
        )
        what = f"mode={mode!r}, a random series first reaching the target at epoch {reach}"
        true(run["stop_training"], f"{what}: training should stop")
        _stopped(run["stopped_epoch"], reach, f"{what}: stopped_epoch")
        close(run["learning_rates"], [lr] * (reach + 1), f"{what}: learning_rates", rtol=1e-5)


@test("test_target_stopper")
def target_stopper_stops_fit(student, rng):
    # the real fit loop: a target reached at once stops after the first epoch
    reply = student.run(fit_with_stopper, Ref("TargetStopper"), {"monitor": "loss", "target": 1e9, "mode": "min"}, 5)
    equal(reply["epochs_run"], 1, "epochs run by fit when the target is met after the first")
    _stopped(reply["stopped_epoch"], 0, "stopped_epoch inside fit")
    close(reply["learning_rates"], [0.01], "learning_rates recorded inside fit", rtol=1e-5)


# ------------------------------------------------------------------- exercise 3: custom losses


@driver
def on_tensors(loss, *arrays, **kwargs):
    """loss(...) on backend tensors made from the arrays, as inside a training step."""
    import keras

    return loss(*(keras.ops.convert_to_tensor(a) for a in arrays), **kwargs)


@driver
def train_with_loss(loss, x, y, units, epochs, learning_rate, batch_size, seed):
    """Fit Dense(units, sigmoid) compiled with the loss, from a fixed seed; the loss per epoch."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(x.shape[1],)), keras.layers.Dense(units, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return [float(v) for v in history.history["loss"]]


def _cost_profit(y_true, y_pred, cost, profit):
    return np.mean(np.where(y_pred > y_true, cost * (y_pred - y_true), profit * (y_true - y_pred)), axis=-1)


def _dice(y_true, y_pred, smooth):
    t, p = y_true.reshape(len(y_true), -1).astype(float), y_pred.reshape(len(y_pred), -1).astype(float)
    return 1 - (2 * (t * p).sum(1) + smooth) / (t.sum(1) + p.sum(1) + smooth)


def _loss_handle(student, cost, profit):
    loss = student.call("make_cost_profit_loss", cost, profit)
    true(isinstance(loss, Handle), "make_cost_profit_loss should return a function")
    return loss


@test("test_custom_losses")
def cost_profit_loss_per_sample(student, rng):
    juice = _loss_handle(student, 1.0, 9.0)
    y_true = np.array([[10.0, 10.0], [5.0, 5.0]], dtype="float32")
    y_pred = np.array([[12.0, 7.0], [5.0, 5.0]], dtype="float32")
    close(
        student.call(juice, y_true, y_pred),
        [(2 * 1 + 3 * 9) / 2, 0.0],
        "the cost/profit loss per sample of the example (one value per sample: average over the last axis)",
    )
    for cost, profit, shape_ in [
        (1.0, 9.0, (6, 3)),
        (2.5, 0.5, (4, 1)),
        (0.3, 3.0, (5, 7)),
        (float(rng.uniform(0.1, 5)), float(rng.uniform(0.1, 5)), (int(rng.integers(1, 9)), int(rng.integers(1, 9)))),
    ]:
        loss = _loss_handle(student, cost, profit)
        yt = rng.uniform(0, 50, size=shape_).astype("float32")
        yp = (yt + rng.normal(0, 10, size=shape_)).astype("float32")
        case = f"cost/profit loss (cost={cost:.3g}, profit={profit:.3g}) on {shape_}"
        close(
            shape(student.run(on_tensors, loss, yt, yp), shape_[:1], case),
            _cost_profit(yt, yp, cost, profit),
            case,
            rtol=1e-4,
            atol=1e-4,
        )
        yt_int = np.round(yt).astype("int32")
        close(
            student.run(on_tensors, loss, yt_int, yp),
            _cost_profit(yt_int.astype(float), yp, cost, profit),
            f"{case} with integer targets",
            rtol=1e-4,
            atol=1e-4,
        )


@test("test_custom_losses")
def dice_loss_per_sample(student, rng):
    t = np.array([[[1, 1], [0, 0]], [[0, 0], [0, 0]]], dtype="float32")
    p = np.array([[[1, 0.5], [0, 0.5]], [[0, 0], [0, 0]]], dtype="float32")
    close(
        student.call("dice_loss", t, p),
        [1 - (2 * 1.5 + 1) / (2 + 2 + 1), 0.0],
        "dice_loss per sample of the "
        "example (sum over all axes but the first; an empty mask predicted empty has loss 0)",
        rtol=1e-5,
    )
    for shape_, smooth in [
        ((3, 10), 1.0),
        ((2, 4, 4, 1), 1.0),
        ((4, 5, 3), 0.1),
        ((2, 6), 1e-6),
        ((int(rng.integers(1, 6)), int(rng.integers(2, 8)), int(rng.integers(2, 8))), float(rng.uniform(0.01, 2.0))),
    ]:
        yt = (rng.random(shape_) > 0.6).astype("float32")
        yp = rng.random(shape_).astype("float32")
        case = f"dice_loss on {shape_}, smooth={smooth:.3g}"
        close(
            shape(student.run(on_tensors, Ref("dice_loss"), yt, yp, smooth=smooth), shape_[:1], case),
            _dice(yt, yp, smooth),
            case,
            rtol=1e-4,
            atol=1e-5,
        )
    perfect = (rng.random((3, 8)) > 0.5).astype("float32")
    perfect[:, 0] = 1.0  # no empty mask: with smooth=0 that would be 0 / 0
    close(
        student.call("dice_loss", perfect, perfect, smooth=0.0),
        np.zeros(3),
        "dice_loss of a perfect prediction",
        atol=1e-6,
    )
    close(
        student.call("dice_loss", perfect.astype("int32"), perfect, smooth=1.0),
        np.zeros(3),
        "dice_loss with integer targets",
        atol=1e-6,
    )


@test("test_custom_losses", seconds=300)
def losses_train_a_model(student, rng):
    x = rng.random((16, 4)).astype("float32")
    y = rng.integers(0, 2, (16, 2)).astype("float32")
    for name, loss in [("cost/profit", _loss_handle(student, 1.0, 9.0)), ("dice", Ref("dice_loss"))]:
        losses = student.run(train_with_loss, loss, x, y, 2, 1, 1e-3, 32, 0)
        true(
            isinstance(losses, list) and len(losses) == 1 and np.isfinite(number(losses[0], f"the {name} loss")),
            f"training with the {name} loss gave a non-finite loss",
        )
    # the gradient flows: a tiny segmentation-like model improves its Dice with this loss (fixed data and seed)
    data = np.random.default_rng(7070)
    x = data.random((64, 6)).astype("float32")
    y = (x[:, :3] > 0.5).astype("float32")
    losses = student.run(train_with_loss, Ref("dice_loss"), x, y, 3, 30, 0.05, 64, 1)
    losses = [number(v, "the dice loss of an epoch") for v in losses]
    true(
        losses[-1] < losses[0] - 0.05,
        "training with dice_loss should lower it; is the loss differentiable (no thresholds)?",
    )
