"""Convert a StyleGAN2-ADA network pickle (NVIDIA's stylegan2-ada-pytorch: `network-snapshot-*.pkl`,
or the published ffhq.pkl, metfaces.pkl, afhq*.pkl) into a gantry generator-only checkpoint:

    python scripts/convert_stylegan2ada.py ffhq.pkl ffhq.safetensors
    gantry sample --ckpt ffhq.safetensors --psi 0.7 --out faces.png     # also style-mix, noise, invert

Needs only torch (any 2.x): NVIDIA's code is not imported. Their pickles carry their classes'
source (torch_utils.persistence); this script unpickles those objects as plain records of the
module's state instead of rebuilding the classes, and reads `G_ema`'s parameters and buffers under
the names its state_dict() has — the names gantry's StyleGAN2 keeps — and its constructor
arguments (`init_kwargs`: z/w dims, resolution, channels, channel base/max, mapping layers, conv
clamp), which become the `--set` lines of gantry's `stylegan2-paper256` preset. The constant
resample filters are left out (gantry builds them). Unconditional generators with the default
`skip` synthesis architecture are supported; anything else is refused with one line.

The reverse, a gantry run to a state dict their Generator loads (`load_state_dict`, strict):
`gantry export --ckpt RUN --format stylegan2-ada --out G.safetensors`.

A pickle can name any Python function and have the unpickler call it, so this script does not
trust the file: it resolves only an allow-list of exactly the globals StyleGAN2-ADA network
pickles contain — torch_utils.persistence._reconstruct_persistent_obj (read as a record here;
its module_src is never executed), dnnlib.util.EasyDict, collections.OrderedDict, builtins.set
and frozenset, torch._utils._rebuild_tensor / _rebuild_tensor_v2 / _rebuild_parameter,
torch.storage._load_from_bytes, and numpy's scalar, _reconstruct, dtype and ndarray (under the
numpy 1.x and 2.x module names) — and refuses any other global, unexecuted, with one line naming
it. A tensor's storage is itself a nested pickle (torch.storage._load_from_bytes); it is read with
torch.load(weights_only=True), so it is held to torch's own allow-list.
"""
import argparse
import collections
import io
import json
import os
import pickle
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_pix2pix import save_safetensors  # noqa: E402


class Persisted:
    """A torch_utils.persistence object, unpickled as its class name and its state."""

    def __init__(self, class_name, state):
        self.class_name = class_name
        self.state = state

    def __setstate__(self, state):  # their pickles never BUILD a persistent object
        raise pickle.UnpicklingError("a persistent object given state twice (BUILD)")


def _reconstruct_persistent_obj(meta):
    """torch_utils.persistence._reconstruct_persistent_obj without running the class source the
    pickle carries (meta["module_src"], which is never read): only the class name and state."""
    if not isinstance(meta, dict) or not isinstance(meta.get("class_name"), str) or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("a persistent object without a class name and a state dict")
    return Persisted(meta["class_name"], dict(meta["state"]))


class EasyDict(dict):
    """dnnlib.util.EasyDict without dnnlib."""

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("an EasyDict whose state is not a dict")
        self.update(state)


def _no_hooks(hooks):
    # Tensors are pickled with an empty OrderedDict of backward hooks (torch's "don't serialize
    # hooks"); anything else would be a callable to run on backward.
    if not isinstance(hooks, dict) or hooks:
        raise pickle.UnpicklingError("a tensor with backward hooks")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    _no_hooks(backward_hooks)
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    _no_hooks(backward_hooks)
    return torch._utils._rebuild_parameter(data, requires_grad, backward_hooks)


def _one_line(text):
    return " ".join(str(text).split())


def _load_storage(b):
    """torch.storage._load_from_bytes, whose bytes are a nested torch.save (legacy format) pickle,
    read with torch's weights-only unpickler instead of torch.load(weights_only=False)."""
    if not isinstance(b, bytes):
        raise pickle.UnpicklingError("torch.storage._load_from_bytes of something other than bytes")
    try:
        return torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch wraps its unpickler's error (kept as __context__) in paragraphs of advice.
        inner = e.__context__ if isinstance(e.__context__, pickle.UnpicklingError) else e
        why = _one_line(inner).split(" Please use `torch.serialization")[0]
        raise pickle.UnpicklingError(f"a tensor storage (torch.storage._load_from_bytes) refused by torch's weights-only unpickler: {why}") from None


def _numpy(name):
    """numpy's unpickling helpers, imported only when a pickle names one."""
    import numpy

    try:
        from numpy._core import multiarray  # numpy 2.x (and 1.26)
    except ImportError:
        from numpy.core import multiarray
    return {"scalar": multiarray.scalar, "_reconstruct": multiarray._reconstruct, "dtype": numpy.dtype, "ndarray": numpy.ndarray}[name]


# Every global a StyleGAN2-ADA network pickle names (pickled with torch 1.7-2.x, numpy 1.x-2.x,
# Python 3 pickle protocols 3-5), as module -> name -> what it loads as; nothing else is resolved.
ALLOWED = {
    "torch_utils.persistence": {"_reconstruct_persistent_obj": lambda: _reconstruct_persistent_obj},
    "dnnlib.util": {"EasyDict": lambda: EasyDict},
    "collections": {"OrderedDict": lambda: collections.OrderedDict},
    "builtins": {"set": lambda: set, "frozenset": lambda: frozenset},
    "torch._utils": {
        "_rebuild_tensor": lambda: torch._utils._rebuild_tensor,
        "_rebuild_tensor_v2": lambda: _rebuild_tensor_v2,
        "_rebuild_parameter": lambda: _rebuild_parameter,
    },
    "torch.storage": {"_load_from_bytes": lambda: _load_storage},
    "numpy": {"dtype": lambda: _numpy("dtype"), "ndarray": lambda: _numpy("ndarray")},
    "numpy.core.multiarray": {"scalar": lambda: _numpy("scalar"), "_reconstruct": lambda: _numpy("_reconstruct")},
    "numpy._core.multiarray": {"scalar": lambda: _numpy("scalar"), "_reconstruct": lambda: _numpy("_reconstruct")},
}


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        load = ALLOWED.get(module, {}).get(name) if isinstance(module, str) and isinstance(name, str) else None
        if load is None:
            full = f"{module}.{name}"
            raise pickle.UnpicklingError(
                f"refused global {full if full.isprintable() else ascii(full)}: this converter loads only what "
                "StyleGAN2-ADA network pickles contain (their persistent objects, EasyDicts, torch tensors, "
                "numpy scalars and arrays, plain containers) and runs nothing else"
            )
        return load()


def state_dict(obj, prefix=""):
    """The state_dict() of a module, persistent (a record) or plain (a torch module)."""
    if isinstance(obj, torch.nn.Module):
        return {prefix + k: v for k, v in obj.state_dict().items()}
    out = collections.OrderedDict()
    st = obj.state
    for k, v in st.get("_parameters", {}).items():
        if v is not None:
            out[prefix + k] = v.detach()
    skip = st.get("_non_persistent_buffers_set", set())
    for k, v in st.get("_buffers", {}).items():
        if v is not None and k not in skip:
            out[prefix + k] = v.detach()
    for k, child in st.get("_modules", {}).items():
        if child is not None:
            out.update(state_dict(child, prefix + k + "."))
    return out


def load_g_ema(path):
    try:
        with open(path, "rb") as f:
            data = Unpickler(f).load()
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as e:
        raise SystemExit(f"{path}: cannot read a StyleGAN2-ADA network pickle: {_one_line(e)}")
    except Exception as e:  # what a malformed pickle makes the allowed constructors raise
        raise SystemExit(f"{path}: cannot read a StyleGAN2-ADA network pickle: {type(e).__name__}: {_one_line(e)}")
    if not isinstance(data, dict) or "G_ema" not in data:
        raise SystemExit(f"{path}: not a StyleGAN2-ADA network pickle (no G_ema)")
    g = data["G_ema"]
    if not isinstance(g, Persisted) or g.class_name != "Generator":
        raise SystemExit(f"{path}: G_ema is a {getattr(g, 'class_name', type(g).__name__)}, not a StyleGAN2-ADA Generator")
    return g


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pkl", help="a StyleGAN2-ADA network pickle")
    p.add_argument("out", help="the gantry checkpoint to write (.safetensors)")
    a = p.parse_args()

    g = load_g_ema(a.pkl)
    kw = dict(g.state["_init_kwargs"])
    mapping = dict(kw.get("mapping_kwargs", {}))
    synthesis = dict(kw.get("synthesis_kwargs", {}))
    res, channels = int(kw["img_resolution"]), int(kw["img_channels"])
    if int(kw.get("c_dim", 0)) != 0:
        raise SystemExit(f"{a.pkl}: a conditional generator (c_dim {kw['c_dim']}); gantry's StyleGAN2 is unconditional")
    if synthesis.get("architecture", "skip") != "skip":
        raise SystemExit(f"{a.pkl}: synthesis architecture '{synthesis['architecture']}'; gantry builds 'skip' only")
    # Arguments gantry's StyleGAN2 builds the same way whatever their value (fp16 is a speed
    # setting of their CUDA path; gantry computes in fp32), or as given in the --set lines.
    known = {
        "mapping_kwargs": {"num_layers", "lr_multiplier", "w_avg_beta"},
        "synthesis_kwargs": {"channel_base", "channel_max", "conv_clamp", "num_fp16_res", "fp16_channels_last", "architecture"},
    }
    for group, args in [("mapping_kwargs", mapping), ("synthesis_kwargs", synthesis)]:
        for k in sorted(set(args) - known[group]):
            raise SystemExit(f"{a.pkl}: G_ema was built with {group}.{k} = {args[k]!r}, which gantry's StyleGAN2 does not have")
    if res < 8 or res & (res - 1):
        raise SystemExit(f"{a.pkl}: resolution {res} is not a power of two ≥ 8")
    sd = {k: v for k, v in state_dict(g).items() if not k.endswith("resample_filter")}
    sets = [
        f"model.resolution={res}",
        f"model.channels={channels}",
        f"model.z_dim={int(kw['z_dim'])}",
        f"model.w_dim={int(kw['w_dim'])}",
        f"model.mapping_layers={int(mapping.get('num_layers', 8))}",
        f"model.mapping_lr_multiplier={float(mapping.get('lr_multiplier', 0.01))}",
        f"model.w_avg_beta={float(mapping.get('w_avg_beta', 0.995))}",
        f"model.channel_base={int(synthesis.get('channel_base', 32768))}",
        f"model.channel_max={int(synthesis.get('channel_max', 512))}",
    ]
    clamp = synthesis.get("conv_clamp")
    sets.append(f"model.conv_clamp={'none' if clamp is None else float(clamp)}")
    metadata = {
        "gantry.preset": "stylegan2-paper256",
        "gantry.set": "\n".join(sets),
        "gantry.networks": "g_ema",
        "gantry.source": a.pkl,
        "stylegan2ada.init_kwargs": json.dumps(kw, sort_keys=True, default=str),
    }
    save_safetensors({f"g_ema.{k}": v.float() if v.is_floating_point() else v for k, v in sd.items()}, metadata, a.out)
    print(f"wrote {a.out}: G_ema {res}x{res}x{channels}, z {kw['z_dim']}, w {kw['w_dim']} ({len(sd)} tensors); {' '.join(sets)}")


if __name__ == "__main__":
    sys.exit(main())
