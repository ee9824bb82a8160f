"""PNG plots (matplotlib, imported only when plots are asked for)."""

from __future__ import annotations

from pathlib import Path

from bench.fanout import FanoutResult
from bench.policy import PolicyResult


def write_plots(
    fanout: FanoutResult | None, policy: PolicyResult | None, directory: Path
) -> dict[str, Path]:
    """Write the plots there is data for; return name → file.

    Raises:
        ImportError: matplotlib is not installed (``pip install -e '.[bench]'``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if fanout is not None and fanout.points:
        ns = [p.nodes for p in fanout.points]
        series = {
            "echo (bare grpc.aio)": (
                [p.echo.p50 for p in fanout.points],
                [p.echo.p99 for p in fanout.points],
                "tab:gray",
            ),
            "direct to nodes": (
                [p.direct.p50 for p in fanout.points],
                [p.direct.p99 for p in fanout.points],
                "tab:blue",
            ),
            "through the broker": (
                [p.broker.p50 for p in fanout.points],
                [p.broker.p99 for p in fanout.points],
                "tab:red",
            ),
        }
        fig, ax = plt.subplots(figsize=(8, 5))
        for label, (p50, p99, color) in series.items():
            ax.plot(ns, p50, "o-", color=color, label=f"{label} p50")
            ax.plot(ns, p99, "--", color=color, alpha=0.6, label=f"{label} p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("nodes (N)")
        ax.set_ylabel("search latency (ms)")
        ax.set_title("Fan-out latency against node count")
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = directory / "fanout_latency.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written["fanout_latency"] = path

        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.plot(
            ns,
            [p.broker.p50 / p.echo.p50 for p in fanout.points],
            "o-",
            color="tab:red",
            label="broker p50 / echo p50",
        )
        ax.plot(
            ns,
            [p.direct.p50 / p.echo.p50 for p in fanout.points],
            "o-",
            color="tab:blue",
            label="direct p50 / echo p50",
        )
        ax.plot(
            ns,
            [p.broker.p99 / p.broker.p50 for p in fanout.points],
            "s--",
            color="tab:purple",
            label="broker p99 / p50",
        )
        ax.axhline(1.3, color="tab:green", linestyle=":", label="target 1.3× (N = 10)")
        ax.axhline(1.5, color="tab:olive", linestyle=":", label="target 1.5× (N = 200, 500)")
        ax.axhline(2.0, color="tab:purple", linestyle=":", alpha=0.5, label="target p99/p50 2")
        ax.set_xscale("log")
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_xlabel("nodes (N)")
        ax.set_ylabel("ratio")
        ax.set_title("Fan-out latency as a ratio to the echo baseline")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = directory / "fanout_ratio.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written["fanout_ratio"] = path
    if policy is not None:
        items = [(p.name, p.cpu_us) for p in policy.paths] + [
            (r.name, r.cpu_us) for r in policy.rules
        ]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        labels = [name for name, _ in items]
        values = [us for _, us in items]
        bars = ax.barh(
            labels, values, color=["tab:red"] * len(policy.paths) + ["tab:gray"] * len(policy.rules)
        )
        ax.bar_label(bars, fmt="%.0f µs", fontsize=8)
        ax.axvline(50, color="tab:green", linestyle=":", label="20,000 hits/s/core = 50 µs")
        ax.invert_yaxis()
        ax.set_xlabel("µs of CPU per hit (all threads)")
        ax.set_title("Per-hit policy cost: node path (red) and bare rules (gray)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = directory / "policy_per_hit.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written["policy"] = path
    return written
