"""DQN on CartPole-v1: the target network and Double DQN, after Mnih et al. (2015), "Human-
level control through deep reinforcement learning", and van Hasselt, Guez and Silver
(2016), "Deep Reinforcement Learning with Double Q-learning".

Four variants of one agent (``jaxdl.rl.DQN``), trained from the same initial networks and
warm-up data with the same seeds; each of the last three changes one thing:

- ``double_dqn``: the headline agent, Double DQN targets (argmax by the online network,
  value by the target network), a target network that follows the online one by Polyak
  averaging, the squared TD error;
- ``dqn``: DQN targets, the max over the target network;
- ``no_target``: no target network, the online network bootstraps from itself;
- ``huber``: the Huber loss (δ = 1) of the TD error instead of its square.

The environment is gymnax's CartPole-v1 (JAX-native, so acting and learning run together
inside ``lax.scan``); the seeds are ``vmap``-ped into one program. The greedy policy of
each run is evaluated on 100 episodes at the end; the headline variant's mean return goes
to ``summary.json``.

Usage::

    python experiments/dqn/run.py                       # 5 seeds, 500k steps, minutes
    python experiments/dqn/run.py --quick --out /tmp/dqn   # seconds: a smoke test
    python experiments/dqn/run.py --variants double_dqn --sequential --out /tmp/seq

Writes ``summary.json``, ``table.md``, ``table.csv``, ``curves.csv``,
``return_vs_steps.png`` and ``return_vs_wall_time.png`` to ``--out`` (default
``results/`` beside this file).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, losses, models, optim, rl

HERE = Path(__file__).resolve().parent
ENV = "CartPole-v1"
SOLVED = 475.0  # CartPole-v1's reward threshold
# name -> (what differs from the headline agent, label). The headline is Double DQN with
# a target network and the squared TD error; each other variant changes one thing.
VARIANTS = {
    "double_dqn": ({}, "Double DQN"),
    "dqn": ({"double": False}, "DQN (max over the target network)"),
    "no_target": ({"double": False, "target_network": False}, "DQN without target network"),
    "huber": ({"loss": "huber"}, "Double DQN, Huber loss (δ = 1)"),
}
HEADLINE = "double_dqn"
SUMMARY_KEYS = ("env", "seeds", "env_steps", "wall_s", "mean_return", "std_return")


@dataclasses.dataclass(frozen=True)
class Config:
    env_steps: int
    seeds: int
    num_envs: int
    hidden: tuple[int, ...]
    learning_rate: float
    buffer_capacity: int
    batch_size: int
    learning_starts: int
    exploration_steps: int
    """ε decays linearly from 1 to ``final_epsilon`` over this many environment steps."""
    final_epsilon: float
    tau: float
    """The target network follows the online one by Polyak averaging with this τ."""
    gamma: float
    max_grad_norm: float
    chunks: int
    """Training runs in this many compiled calls; the curves are read between them."""
    checkpoint_episodes: int
    """Greedy evaluation episodes after each chunk (the evaluation curve)."""
    eval_episodes: int
    first_seed: int = 0


DEFAULT = Config(
    env_steps=500_000,
    seeds=5,
    num_envs=8,
    hidden=(120, 84),
    learning_rate=5e-4,
    buffer_capacity=500_000,
    batch_size=128,
    learning_starts=10_000,
    exploration_steps=100_000,
    final_epsilon=0.05,
    tau=0.005,
    gamma=0.99,
    max_grad_norm=10.0,
    chunks=20,
    checkpoint_episodes=20,
    eval_episodes=100,
)
QUICK = Config(
    env_steps=3_000,
    seeds=1,
    num_envs=4,
    hidden=(32,),
    learning_rate=1e-3,
    buffer_capacity=3_000,
    batch_size=32,
    learning_starts=400,
    exploration_steps=1_500,
    final_epsilon=0.05,
    tau=0.01,
    gamma=0.99,
    max_grad_norm=10.0,
    chunks=2,
    checkpoint_episodes=10,
    eval_episodes=10,
)
LOSSES = {"mse": losses.mse, "huber": losses.huber}


def make_agent(config: Config, env, env_params, variant: str) -> rl.DQN:
    """The agent of one variant: Adam whose learning rate decays linearly to 0 over the
    updates, after clipping the gradient's global norm; ε decays linearly."""
    updates = (config.env_steps - config.learning_starts) // config.num_envs
    learning_rate = optim.linear_schedule(config.learning_rate, 0.0, updates)
    optimizer = optim.chain(
        optim.clip_by_global_norm(config.max_grad_norm), optim.adam(learning_rate)
    )
    network = models.mlp(env.num_actions, hidden=config.hidden, activation=activations.relu)
    settings = {"double": True, "target_network": True, "loss": "mse"}
    settings.update(VARIANTS[variant][0])
    return rl.DQN(
        env,
        network,
        optimizer,
        env_params=env_params,
        num_envs=config.num_envs,
        buffer_capacity=config.buffer_capacity,
        batch_size=config.batch_size,
        gamma=config.gamma,
        epsilon=optim.linear_schedule(1.0, config.final_epsilon, config.exploration_steps),
        learning_starts=config.learning_starts,
        train_every=1,
        tau=config.tau,
        double=settings["double"],
        target_network=settings["target_network"],
        loss_fn=LOSSES[settings["loss"]],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    if args.quick:
        _compile_quickly()
    config = QUICK if args.quick else DEFAULT
    if args.seeds:
        config = dataclasses.replace(config, seeds=args.seeds)
    if args.env_steps:
        config = dataclasses.replace(config, env_steps=args.env_steps)
    config = dataclasses.replace(config, first_seed=args.first_seed)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    env, env_params = rl.make_env(ENV)
    agents = {name: make_agent(config, env, env_params, name) for name in args.variants}
    base = agents[HEADLINE]
    iterations = _iterations(config, base)
    print(
        f"{ENV}: {len(agents)} variants x {config.seeds} seeds, "
        f"{base.warmup_steps + iterations * config.num_envs:,} environment steps each "
        f"({config.num_envs} environments, {iterations:,} updates), "
        f"{'one vmap over seeds' if not args.sequential else 'seeds one after another'}",
        flush=True,
    )

    seeds = range(config.first_seed, config.first_seed + config.seeds)
    keys = jnp.stack([jax.random.key(seed) for seed in seeds])
    start = time.perf_counter()
    # The warm-up and the evaluation do not depend on the variant: one program each, and
    # every variant starts from the same networks and the same warm-up transitions.
    init = _timed_compile(jax.vmap(base.init), keys)
    initial = init.run(keys)
    evaluate = {
        n: _compiled_evaluate(base, initial, n)
        for n in {config.checkpoint_episodes, config.eval_episodes}
    }
    shared_seconds = time.perf_counter() - start
    print(f"warm-up and evaluation programs compiled and run in {shared_seconds:.1f} s", flush=True)

    runs = {}
    for name, agent in agents.items():
        runs[name] = _train(
            name, agent, config, iterations, initial, evaluate, keys, sequential=args.sequential
        )
        runs[name]["seconds"] += shared_seconds
        final = runs[name]["final_returns"]
        print(
            f"{name:11s} mean return {final.mean():6.1f} ± {final.mean(axis=1).std():5.1f} "
            f"(per seed {np.round(final.mean(axis=1), 1).tolist()}), "
            f"{runs[name]['seconds']:.0f} s",
            flush=True,
        )
    total_seconds = time.perf_counter() - start

    summary = _summary(config, runs[HEADLINE], base, iterations)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _write_table_csv(out / "table.csv", runs, config)
    table = _markdown(runs, config, summary, total_seconds)
    (out / "table.md").write_text(table)
    _write_curves(out / "curves.csv", runs)
    _plot(out / "return_vs_steps.png", runs, config, axis="env_steps")
    _plot(out / "return_vs_wall_time.png", runs, config, axis="wall_s")
    print(table)
    print(f"{total_seconds / 60:.1f} min in all")
    return 0


def _compile_quickly() -> None:
    """``--quick`` compiles without XLA's backend optimisations: compiling is most of its
    run time (about 32 s become 17 s on 2 CPU cores), and a smoke test needs no fast code.
    XLA reads the flag when JAX starts its backends, which nothing has done yet; a value
    already in ``XLA_FLAGS`` wins."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "--xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=0".strip()


@dataclasses.dataclass
class _Compiled:
    run: object
    seconds: float


def _timed_compile(fn, *args) -> _Compiled:
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return _Compiled(compiled, time.perf_counter() - start)


def _compiled_evaluate(agent: rl.DQN, states: rl.DQNState, episodes: int) -> _Compiled:
    def evaluate(states, keys):
        return jax.vmap(lambda s, k: agent.evaluate(s, k, episodes=episodes))(states, keys)

    keys = jax.vmap(jax.random.key)(jnp.arange(jax.tree_util.tree_leaves(states)[0].shape[0]))
    return _timed_compile(evaluate, states, keys)


def _iterations(config: Config, agent: rl.DQN) -> int:
    """Training iterations (one update and ``num_envs`` environment steps each), a multiple
    of ``chunks``, so that warm-up plus training is at most ``env_steps``."""
    per_chunk = (config.env_steps - agent.warmup_steps) // (config.num_envs * config.chunks)
    if per_chunk < 1:
        raise SystemExit(
            f"--env-steps {config.env_steps} leaves no training after the "
            f"{agent.warmup_steps}-step warm-up"
        )
    return per_chunk * config.chunks


def _train(
    name: str,
    agent: rl.DQN,
    config: Config,
    iterations: int,
    initial: rl.DQNState,
    evaluate: dict[int, _Compiled],
    keys: jax.Array,
    *,
    sequential: bool,
) -> dict:
    """Train all seeds of one variant in ``config.chunks`` compiled calls, evaluating the
    greedy policy after each; the wall time counts compilation, training and the final
    evaluation, not the checkpoint evaluations between chunks."""
    per_chunk = iterations // config.chunks
    if sequential:
        one = jax.jit(lambda state: agent.train(state, per_chunk))

        def step(states):
            outputs = [
                one(jax.tree_util.tree_map(lambda x, i=i: x[i], states))
                for i in range(config.seeds)
            ]
            return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *outputs)

        seconds = 0.0
    else:
        compiled = _timed_compile(jax.vmap(lambda state: agent.train(state, per_chunk)), initial)
        step, seconds = compiled.run, compiled.seconds
    states = initial
    episode_returns, episode_done, checkpoints, chunk_seconds = [], [], [], []
    best_params, best_scores = initial.train_state.params, np.full(config.seeds, -np.inf)
    best_chunk = np.zeros(config.seeds, int)
    for chunk in range(config.chunks):
        start = time.perf_counter()
        states, logs = step(states)
        jax.block_until_ready(states)
        seconds += time.perf_counter() - start
        chunk_seconds.append(seconds)
        episode_returns.append(np.asarray(logs.episode_return))
        episode_done.append(np.asarray(logs.episode_done))
        eval_keys = jax.vmap(lambda k, c=chunk: jax.random.fold_in(k, 1 + c))(keys)
        checkpoints.append(
            np.asarray(evaluate[config.checkpoint_episodes].run(states, eval_keys)).mean(axis=1)
        )
        # The best checkpoint so far by this evaluation (ties: the later one).
        improved = checkpoints[-1] >= best_scores
        best_scores = np.where(improved, checkpoints[-1], best_scores)
        best_chunk = np.where(improved, chunk, best_chunk)
        best_params = _where_seeds(improved, states.train_state.params, best_params)
        print(
            f"  {name:11s} {int(states.env_steps[0]):>8,} steps {seconds:6.1f} s  "
            f"greedy return {np.round(checkpoints[-1], 0).tolist()}",
            flush=True,
        )
    # Fresh episodes (key 0 of each seed; the checkpoints used keys 1 … chunks).
    start = time.perf_counter()
    final_keys = jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys)
    final = np.asarray(evaluate[config.eval_episodes].run(states, final_keys))
    seconds += time.perf_counter() - start
    best_states = states._replace(train_state=states.train_state._replace(params=best_params))
    best = np.asarray(evaluate[config.eval_episodes].run(best_states, final_keys))
    return {
        "episode_return": np.concatenate(episode_returns, axis=1),  # (seeds, T, num_envs)
        "episode_done": np.concatenate(episode_done, axis=1),
        "checkpoints": np.stack(checkpoints, axis=1),  # (seeds, chunks)
        "chunk_steps": agent.warmup_steps
        + config.num_envs * per_chunk * np.arange(1, config.chunks + 1),
        "chunk_seconds": np.asarray(chunk_seconds),
        "final_returns": final,  # (seeds, eval_episodes)
        "best_returns": best,  # the best checkpoints', (seeds, eval_episodes)
        "best_steps": agent.warmup_steps + config.num_envs * per_chunk * (best_chunk + 1),
        "seconds": seconds,
        "env_steps": int(states.env_steps[0]),
        "warmup_steps": agent.warmup_steps,
        "num_envs": config.num_envs,
    }


def _where_seeds(mask: np.ndarray, new, old):
    """Per seed (the leading axis), ``new`` where ``mask`` holds, else ``old``."""

    def pick(a, b):
        return jnp.where(jnp.asarray(mask).reshape((-1,) + (1,) * (a.ndim - 1)), a, b)

    return jax.tree_util.tree_map(pick, new, old)


def _summary(config: Config, run: dict, agent: rl.DQN, iterations: int) -> dict:
    final = run["final_returns"]
    per_seed = final.mean(axis=1)
    return {
        "env": ENV,
        "seeds": config.seeds,
        "env_steps": run["env_steps"],
        "wall_s": round(float(run["seconds"]), 1),
        "mean_return": round(float(final.mean()), 2),
        # The spread over seeds: the standard deviation of the per-seed mean returns.
        "std_return": round(float(per_seed.std()), 2),
        "variant": HEADLINE,
        "per_seed_mean_return": [round(float(r), 2) for r in per_seed],
    }


def _training_curve(run: dict, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean return of the training (ε-greedy) episodes that ended in each window of
    ``window`` environment steps, per seed: (window ends, wall seconds, (seeds, windows))."""
    returns = np.where(run["episode_done"], run["episode_return"], np.nan)
    rows_per_window = max(window // run["num_envs"], 1)
    seeds, rows, _ = returns.shape
    windows = rows // rows_per_window
    grouped = returns[:, : windows * rows_per_window].reshape(seeds, windows, -1)
    with _quiet():
        means = np.nanmean(grouped, axis=2)
    ends = run["warmup_steps"] + run["num_envs"] * rows_per_window * np.arange(1, windows + 1)
    wall = np.interp(
        ends,
        np.concatenate([[run["warmup_steps"]], run["chunk_steps"]]),
        np.concatenate([[0.0], run["chunk_seconds"]]),
    )
    return ends, wall, means


@contextlib.contextmanager
def _quiet():
    """Silence numpy's RuntimeWarning for windows in which no episode ended."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _window(config: Config) -> int:
    return max(config.env_steps // 100, config.num_envs)


def _write_table_csv(path: Path, runs: dict, config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "variant",
                "seeds",
                "mean_return",
                "std",
                "min_seed_return",
                "solved_seeds",
                "best_checkpoint_mean_return",
                "best_checkpoint_std",
                "env_steps",
                "wall_s",
            ]
        )
        for name, run in runs.items():
            final, best = run["final_returns"], run["best_returns"]
            per_seed = final.mean(axis=1)
            writer.writerow(
                [
                    name,
                    config.seeds,
                    f"{final.mean():.2f}",
                    f"{per_seed.std():.2f}",
                    f"{per_seed.min():.2f}",
                    int(np.sum(per_seed >= SOLVED)),
                    f"{best.mean():.2f}",
                    f"{best.mean(axis=1).std():.2f}",
                    run["env_steps"],
                    f"{run['seconds']:.1f}",
                ]
            )


def _markdown(runs: dict, config: Config, summary: dict, total_seconds: float) -> str:
    lines = [
        f"# DQN on {ENV}",
        "",
        f"{config.seeds} seeds ({config.first_seed} … {config.first_seed + config.seeds - 1}), "
        f"{summary['env_steps']:,} environment "
        f"steps per run ({config.num_envs} environments in parallel, one update per step of "
        f"all of them), MLP {'-'.join(map(str, config.hidden))} ReLU, Adam "
        f"{config.learning_rate:g} decaying linearly to 0, batch {config.batch_size}, buffer "
        f"{config.buffer_capacity:,}, target network by Polyak averaging (τ {config.tau:g}) "
        f"after every update, "
        f"γ {config.gamma}, ε 1 → {config.final_epsilon} over {config.exploration_steps:,} "
        f"steps, squared TD error, gradient norm clipped at {config.max_grad_norm:g}; each "
        f"variant changes one thing. Return of the greedy policy over "
        f"{config.eval_episodes} fresh episodes per seed: mean over all episodes ± the "
        f"standard deviation of the per-seed means; solved: a seed's mean ≥ {SOLVED:g}. "
        f"*Final*: the policy at the end of training; *best checkpoint*: of the "
        f"{config.chunks} policies saved during training, the one with the best "
        f"{config.checkpoint_episodes}-episode evaluation (then evaluated afresh).",
        "",
        "| variant | agent | seeds | final: mean return | std | worst seed | solved "
        "seeds | best checkpoint: mean return | std | wall time (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        final, best = run["final_returns"], run["best_returns"]
        per_seed = final.mean(axis=1)
        lines.append(
            f"| {name} | {VARIANTS[name][1]} | {config.seeds} | {final.mean():.1f} | "
            f"{per_seed.std():.1f} | {per_seed.min():.1f} | "
            f"{int(np.sum(per_seed >= SOLVED))}/{config.seeds} | {best.mean():.1f} | "
            f"{best.mean(axis=1).std():.1f} | {run['seconds']:.0f} |"
        )
    headline = runs[HEADLINE]["final_returns"]
    lines += [
        "",
        f"Headline ({HEADLINE}, final policy): {headline.mean():.1f} ± "
        f"{headline.mean(axis=1).std():.1f}. Whole study: {total_seconds / 60:.1f} min.",
    ]
    return "\n".join(lines) + "\n"


def _write_curves(path: Path, runs: dict) -> None:
    """The curves' data: per variant, seed and chunk, the training return and the
    greedy-evaluation return."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["variant", "seed", "env_steps", "wall_s", "greedy_return"])
        for name, run in runs.items():
            for seed, values in enumerate(run["checkpoints"]):
                for steps, seconds, value in zip(run["chunk_steps"], run["chunk_seconds"], values):
                    writer.writerow([name, seed, int(steps), f"{seconds:.2f}", f"{value:.2f}"])


def _plot(path: Path, runs: dict, config: Config, *, axis: str) -> None:
    fig, (train_ax, eval_ax) = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    colors = {"double_dqn": "#55a868", "dqn": "#4c72b0", "no_target": "#c44e52", "huber": "#8172b2"}
    for name, run in runs.items():
        steps, wall, means = _training_curve(run, _window(config))
        x = steps if axis == "env_steps" else wall
        with _quiet():
            mean, spread = np.nanmean(means, axis=0), np.nanstd(means, axis=0)
        train_ax.plot(x, mean, color=colors[name], label=VARIANTS[name][1], lw=1.2)
        train_ax.fill_between(x, mean - spread, mean + spread, color=colors[name], alpha=0.2)
        x = run["chunk_steps"] if axis == "env_steps" else run["chunk_seconds"]
        mean, spread = run["checkpoints"].mean(axis=0), run["checkpoints"].std(axis=0)
        eval_ax.plot(x, mean, color=colors[name], marker=".", label=VARIANTS[name][1], lw=1.2)
        eval_ax.fill_between(x, mean - spread, mean + spread, color=colors[name], alpha=0.2)
    label = "environment steps" if axis == "env_steps" else "wall time (s, 2 CPU cores)"
    for ax, title in [
        (train_ax, "training episodes (ε-greedy)"),
        (eval_ax, f"greedy policy, {config.checkpoint_episodes} episodes"),
    ]:
        ax.axhline(SOLVED, color="gray", ls="--", lw=0.8)
        ax.set_xlabel(label)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 520)
    train_ax.set_ylabel("return")
    eval_ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{ENV}: mean ± std over {config.seeds} seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds",
        type=_positive,
        default=None,
        help=f"seeds per variant (default {DEFAULT.seeds}; --quick: {QUICK.seeds})",
    )
    parser.add_argument(
        "--first-seed",
        type=_non_negative,
        default=0,
        help="seeds are first-seed, first-seed + 1, … (default 0)",
    )
    parser.add_argument(
        "--env-steps",
        type=_positive,
        default=None,
        help=f"environment steps per run (default {DEFAULT.env_steps:,})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke test: {QUICK.env_steps:,} steps, a small network",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="train the seeds one after another instead of in one vmap (to compare their speed)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help=f"the variants to run (default all; {HEADLINE} is always run)",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    args = parser.parse_args(argv)
    args.variants = [name for name in VARIANTS if name in {HEADLINE, *args.variants}]
    return args


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
