"""Greedy layer-wise pre-training (docs/concepts.md §10): build a deep network one hidden
layer at a time, the layers below frozen, then fine-tune the whole stack."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl import losses, nn, optim
from jaxdl.train._fit import fit
from jaxdl.train._history import History
from jaxdl.train._inputs import check_int, check_key, unpack
from jaxdl.train._state import TrainState
from jaxdl.train._steps import LossFn, Metric

__all__ = ["Pretrained", "greedy_pretrain"]

METHODS = ("supervised", "autoencoder")


class Pretrained(NamedTuple):
    """What :func:`greedy_pretrain` returns.

    Fields:
        model: the whole network, ``Sequential({"0": hidden[0], …, "head": head})``.
        train_state: its state after fine-tuning (after pre-training if ``epochs=0``).
        histories: one :class:`History` per stage, ``"stage_1"`` … ``"stage_L"``, then
            ``"finetune"``.
    """

    model: nn.Sequential
    train_state: TrainState
    histories: dict[str, History]


def greedy_pretrain(
    hidden: Sequence[nn.Layer],
    head: nn.Layer,
    train_data: Any,
    *,
    loss: LossFn,
    optimizer: optim.GradientTransformation,
    pretrain_epochs: int,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    method: str = "supervised",
    pretrain_optimizer: optim.GradientTransformation | None = None,
    decoder: Callable[[int], nn.Layer] | None = None,
    reconstruction_loss: LossFn = losses.mse,
    corruption: float = 0.0,
    keep_statistics: bool = True,
    validation_data: Any = None,
    callbacks: Sequence[Any] = (),
    metrics: Sequence[Metric] | None = None,
    progress: bool = True,
) -> Pretrained:
    r"""Greedy layer-wise pre-training, then supervised fine-tuning (Bengio et al., 2006;
    Hinton et al., 2006).

    Stage :math:`k = 1 \dots L` trains hidden layer :math:`h_k` with the layers below it
    frozen, each stage a compiled :func:`fit` of ``pretrain_epochs`` epochs:

    - ``method="supervised"``: the network :math:`g_k(h_k(h_{k-1}(\dots h_1(x))))` with a
      temporary output layer :math:`g_k` (a fresh copy of ``head``) learns the labels
      with ``loss``. The lower layers run as :class:`jaxdl.nn.Frozen` and are frozen in the
      optimizer (:func:`jaxdl.optim.selective_transform`). The last stage's head is kept
      as the start of the final one.
    - ``method="autoencoder"``: :math:`h_k` is the encoder of a one-hidden-layer
      autoencoder on the codes :math:`c_{k-1} = h_{k-1}(\dots h_1(x))` of the trained
      layers below (:math:`c_0 = x`), computed once per stage at inference:
      :math:`\min \ell(d_k(h_k(\tilde c_{k-1})), c_{k-1})`, with the decoder
      :math:`d_k` and ``reconstruction_loss`` :math:`\ell`. With ``corruption`` :math:`p >
      0` it is a denoising autoencoder (Vincent et al., 2008): :math:`\tilde c` zeroes
      each input with probability :math:`p` (:class:`jaxdl.nn.MaskingNoise`). Decoders
      are dropped afterwards; the head starts fresh.

    Then the whole network ``hidden[0] → … → hidden[-1] → head`` is fine-tuned with
    ``optimizer`` and ``loss`` for ``epochs`` epochs, every layer trained.

    Arguments:
        hidden: the hidden layers, bottom first; each may be a :class:`Sequential`
            (``Sequential([nn.Flatten(), nn.Dense(500, activation=sigmoid)])``).
        head: the output layer (logits for ``softmax_cross_entropy``).
        train_data: ``(x, y)`` arrays or a dataset with ``x_train``/``y_train``.
        loss: the supervised loss of the supervised stages and of fine-tuning.
        optimizer: the fine-tuning optimizer (and the pre-training one by default).
        pretrain_epochs: epochs per pre-training stage.
        epochs: fine-tuning epochs.
        batch_size, key, validation_data, metrics: as for :func:`fit` (validation in an
            autoencoder stage measures the reconstruction of the validation codes).
        method: ``"supervised"`` (default) or ``"autoencoder"``.
        pretrain_optimizer: the optimizer of the pre-training stages (default
            ``optimizer``).
        decoder: ``decoder(width)`` builds stage :math:`k`'s decoder, a layer mapping the
            code to ``width`` = the flattened size of :math:`c_{k-1}` (default: a linear
            ``nn.Dense(width)``; for pixels in [0, 1] a sigmoid ``Dense`` with
            ``losses.binary_cross_entropy`` is the classic choice).
        reconstruction_loss: ``loss(reconstruction, c)`` of the autoencoder stages
            (default ``losses.mse``), ``c`` flattened to ``(n, width)``.
        corruption: the masking-noise level of a denoising autoencoder, in ``[0, 1)``
            (default 0: a plain autoencoder). Autoencoder stages only.
        keep_statistics: frozen lower layers run in inference mode, keeping their
            batch-norm running statistics as they are and their dropout off (default
            True); False lets them follow ``train`` (``Frozen(inference=False)``).
        callbacks: callbacks of the fine-tuning :func:`fit`.
        progress: a progress bar per stage, labelled ``stage k/L`` and ``finetune``.

    Returns:
        A :class:`Pretrained` ``(model, train_state, histories)``.

    Example:
        >>> import jax, numpy as np
        >>> from jaxdl import activations, losses, nn, optim, train
        >>> x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
        >>> y = (x[:, :2].sum(axis=1) > 0).astype("int32")
        >>> hidden = [nn.Dense(16, activation=activations.tanh) for _ in range(3)]
        >>> result = train.greedy_pretrain(hidden, nn.Dense(2), (x, y),
        ...     loss=losses.softmax_cross_entropy, optimizer=optim.adam(1e-2),
        ...     pretrain_epochs=2, epochs=5, batch_size=32, key=jax.random.key(0),
        ...     method="autoencoder", corruption=0.2, progress=False)
        >>> list(result.histories), result.histories["finetune"]["accuracy"][-1] > 0.9
        (['stage_1', 'stage_2', 'stage_3', 'finetune'], True)
    """
    hidden, pretrain_optimizer = _checked(
        hidden,
        head,
        method,
        pretrain_epochs,
        epochs,
        corruption,
        keep_statistics,
        decoder,
        optimizer,
        pretrain_optimizer,
    )
    check_key(key)
    x, y = unpack("train_data", train_data)
    validation = None if validation_data is None else unpack("validation_data", validation_data)
    names = [str(i) for i in range(len(hidden))]
    depth = len(hidden)
    trained: dict[str, nn.Bound] = {}
    histories: dict[str, History] = {}
    last_head: nn.Bound | None = None
    for k, layer in enumerate(hidden):
        stage_key = jax.random.fold_in(key, k)
        label = f"stage {k + 1}/{depth}" if progress else False
        below = nn.Sequential(dict(zip(names[:k], hidden[:k])))
        lower = below.bind(
            {n: trained[n].params for n in names[:k]}, {n: trained[n].state for n in names[:k]}
        )
        if method == "supervised":
            frozen = {
                n: nn.Frozen(hidden[j], inference=keep_statistics) for j, n in enumerate(names[:k])
            }
            model = nn.Sequential({**frozen, names[k]: layer, "head": head})
            freeze_mask = {n: n in frozen for n in model.names}
            stage_data, stage_validation = (x, y), validation
            stage_loss, stage_metrics = loss, metrics
        else:
            codes = _codes(lower, x)
            width = math.prod(codes.shape[1:])
            parts: dict[str, Any] = {"noise": nn.MaskingNoise(corruption)} if corruption else {}
            build = decoder if decoder is not None else nn.Dense
            model = nn.Sequential({**parts, names[k]: layer, "decoder": build(width)})
            freeze_mask = {}
            stage_data = (codes, codes.reshape(len(codes), width))
            stage_validation = None
            if validation is not None:
                val_codes = _codes(lower, validation[0])
                stage_validation = (val_codes, val_codes.reshape(len(val_codes), width))
            stage_loss, stage_metrics = reconstruction_loss, ()
        init_key, fit_key = jax.random.split(stage_key)
        bound = model.bind(*model.init(init_key, _sample(stage_data[0])))
        if method == "supervised" and k:
            bound = nn.graft(bound, lower)
        stage_optimizer = (
            optim.selective_transform(pretrain_optimizer, freeze_mask=freeze_mask)
            if any(freeze_mask.values())
            else pretrain_optimizer
        )
        state = TrainState.create(params=bound.params, state=bound.state, optimizer=stage_optimizer)
        state, histories[f"stage_{k + 1}"] = fit(
            model,
            stage_optimizer,
            stage_data,
            loss=stage_loss,
            epochs=pretrain_epochs,
            batch_size=batch_size,
            key=fit_key,
            validation_data=stage_validation,
            metrics=stage_metrics,
            progress=label,
            train_state=state,
        )
        trained[names[k]] = nn.Bound(layer, state.params[names[k]], state.state[names[k]])
        if method == "supervised":
            for j, name in enumerate(names[:k]):  # their statistics, if they kept updating
                trained[name] = nn.Bound(hidden[j], trained[name].params, state.state[name])
            last_head = nn.Bound(head, state.params["head"], state.state["head"])

    model = nn.Sequential({**dict(zip(names, hidden)), "head": head})
    bound = model.bind(*model.init(jax.random.fold_in(key, depth), _sample(x)))
    for name, part in trained.items():
        bound = nn.graft(bound, part, at=name)
    if last_head is not None:
        bound = nn.graft(bound, last_head, at="head")
    state = TrainState.create(params=bound.params, state=bound.state, optimizer=optimizer)
    state, histories["finetune"] = fit(
        model,
        optimizer,
        (x, y),
        loss=loss,
        epochs=epochs,
        batch_size=batch_size,
        key=jax.random.fold_in(key, depth + 1),
        validation_data=validation,
        callbacks=callbacks,
        metrics=metrics,
        progress="finetune" if progress else False,
        train_state=state,
    )
    return Pretrained(model, state, histories)


def _checked(
    hidden: Any,
    head: Any,
    method: Any,
    pretrain_epochs: Any,
    epochs: Any,
    corruption: Any,
    keep_statistics: Any,
    decoder: Any,
    optimizer: Any,
    pretrain_optimizer: Any,
) -> tuple[tuple[nn.Layer, ...], optim.GradientTransformation]:
    """Every argument of ``greedy_pretrain`` that ``fit`` does not check, checked."""
    if isinstance(hidden, nn.Layer) or not isinstance(hidden, Sequence) or not hidden:
        raise TypeError(
            "greedy_pretrain: hidden must be a non-empty list of layers (bottom first), "
            f"got {type(hidden).__name__}."
        )
    for i, layer in enumerate([*hidden, head]):
        if not isinstance(layer, nn.Layer):
            what = "head" if i == len(hidden) else f"hidden[{i}]"
            raise TypeError(f"greedy_pretrain: {what} must be a layer, got {layer!r}.")
    if method not in METHODS:
        raise ValueError(f"greedy_pretrain: method must be one of {METHODS}, got {method!r}.")
    for name, value in (("pretrain_epochs", pretrain_epochs), ("epochs", epochs)):
        check_int("greedy_pretrain", name, value, minimum=0)
    if (
        isinstance(corruption, bool)
        or not isinstance(corruption, numbers.Real)
        or not 0 <= corruption < 1
    ):
        raise ValueError(
            f"greedy_pretrain: corruption must be a number in [0, 1), got {corruption!r}."
        )
    if corruption and method != "autoencoder":
        raise ValueError("greedy_pretrain: corruption applies to method='autoencoder' only.")
    if decoder is not None and not callable(decoder):
        raise TypeError(
            f"greedy_pretrain: decoder must be a function width -> layer, got {decoder!r}."
        )
    if not isinstance(keep_statistics, bool):
        raise TypeError(
            f"greedy_pretrain: keep_statistics must be a bool, got {keep_statistics!r}."
        )
    for name, value in (("optimizer", optimizer), ("pretrain_optimizer", pretrain_optimizer)):
        if value is not None and not (hasattr(value, "init") and hasattr(value, "update")):
            raise TypeError(
                f"greedy_pretrain: {name} must be a GradientTransformation (e.g. "
                f"optim.sgd(0.1)), got {value!r}."
            )
    return tuple(hidden), optimizer if pretrain_optimizer is None else pretrain_optimizer


def _sample(x: Any) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype)


def _codes(lower: nn.Bound, x: Any, chunk: int = 4096) -> jax.Array:
    """``lower``'s inference output for all of ``x``, in compiled chunks (``x`` itself
    when ``lower`` has no layers)."""
    if not len(lower.model):
        return jnp.asarray(x)
    return jnp.concatenate([lower(jnp.asarray(x[i : i + chunk])) for i in range(0, len(x), chunk)])
