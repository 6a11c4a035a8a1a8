"""Model zoo speed: images/s of each generator family at a small resolution, and checkpoint load times.

Random-weight generators are built with `interfacegan.models.checkpoints.build_random` (StyleGAN2, StyleGAN3-T/-R,
PGGAN, StyleGAN v1), written in their real file formats (NVIDIA .pkl via the test suite's persistence writer
`tests/nvidia_pickles.py`, rosinality .pt, genforce .pth) and loaded back through `load_model`.
Usage: python benchmarks/models.py [--resolution 32] [--num 64] [--batch-size 16] [--device cpu]
       [--channel-base 512] [--channel-max 32] [--families stylegan2,stylegan3-t,...] [--threads N]
On a shared machine use --threads 1: two OpenMP threads competing with other processes slow down 10-20x.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests/nvidia_pickles.py, a test-only writer

from interfacegan.errors import InterfaceGANError  # noqa: E402
from interfacegan.models import load_model  # noqa: E402
from interfacegan.models.checkpoints import build_random  # noqa: E402

FAMILIES = ["stylegan2", "stylegan3-t", "stylegan3-r", "pggan", "stylegan"]


def build(family: str, args) -> object:
    """A random generator of `family` ('stylegan3-t' / '-r' pick the StyleGAN3 variant) on args.device."""
    if family.startswith("stylegan3"):
        return build_random("stylegan3", resolution=args.resolution, channel_base=args.channel_base,
                            channel_max=args.channel_max, variant=family[-1], device=args.device)  # fmt: skip
    if family == "stylegan2":
        return build_random("stylegan2", resolution=args.resolution, channel_base=args.channel_base,
                            channel_max=args.channel_max, device=args.device)  # fmt: skip
    return build_random(family, resolution=args.resolution, device=args.device)


def images_per_s(model, num: int, batch_size: int) -> float:
    """z -> uint8 images throughput (mapping included for style models), after one warm-up batch."""
    model.synthesize(model.sample(batch_size, seed=99), batch_size=batch_size)
    z = model.sample(num, seed=0)
    start = time.perf_counter()
    model.synthesize(z, batch_size=batch_size)
    return num / (time.perf_counter() - start)


def save_checkpoints(family: str, model, folder: Path) -> dict[str, Path]:
    """The model in each real file format its family has: {'nvidia-pkl': path, 'rosinality-pt': path, ...}."""
    out: dict[str, Path] = {}
    if family == "stylegan2":
        from interfacegan.models.rosinality import save_rosinality
        from tests.nvidia_pickles import write_stylegan2_pkl

        out["nvidia-pkl"] = write_stylegan2_pkl(model, folder / "sg2.pkl")
        if model.cfg.conv_clamp is None:
            out["rosinality-pt"] = save_rosinality(model, folder / "sg2.pt")
        else:  # rosinality cannot express conv_clamp: convert an unclamped copy of the same size
            plain = build_random("stylegan2", resolution=model.resolution, conv_clamp=None,
                                 channel_base=_base(model), channel_max=max(model.cfg.channels.values()))  # fmt: skip
            out["rosinality-pt"] = save_rosinality(plain, folder / "sg2.pt")
    elif family.startswith("stylegan3"):
        from tests.nvidia_pickles import write_stylegan3_pkl

        out["nvidia-pkl"] = write_stylegan3_pkl(model, folder / f"{family}.pkl", radial=family.endswith("r"))
    else:
        path = folder / f"{family}.pth"
        torch.save({k: v.detach().cpu() for k, v in model.net.state_dict().items()}, path)
        out["genforce-pth"] = path
    return out


def _base(model) -> int:
    return max(model.cfg.channels[r] * r for r in model.cfg.channels)


def load_seconds(path: Path, device: str, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load_model(str(path), device=device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--num", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channel-base", type=int, default=512)
    parser.add_argument("--channel-max", type=int, default=32)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"{args.resolution} px, channel_base {args.channel_base}, channel_max {args.channel_max}")  # fmt: skip
    print(f"{'model':<14}{'params':>10}{'images/s':>10}   load time per format")
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            try:
                model = build(family, args)
            except (InterfaceGANError, AttributeError, ImportError) as exc:
                print(f"{family:<14}skipped ({exc})")
                continue
            params = sum(p.numel() for p in model.modules()[0].parameters()) if model.modules() else 0
            speed = images_per_s(model, args.num, args.batch_size)
            files = save_checkpoints(family, model, Path(tmp))
            loads = ", ".join(
                f"{fmt} {load_seconds(path, args.device) * 1000:.0f} ms ({path.stat().st_size / 2**20:.1f} MiB)"
                for fmt, path in files.items()
            )
            print(f"{family:<14}{params:>10,}{speed:>10.1f}   {loads}")


if __name__ == "__main__":
    main()
