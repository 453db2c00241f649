"""Python bindings of the xlstm-mlir runtime (ctypes over libxlstm_runtime.so).

    import xlstm
    model = xlstm.Model("model.xlstmb", dtype="bf16")     # a bundle from xlstmc
    model.set_weights("path/to/checkpoint")               # or seed=... for random init
    logits = model.forward(tokens)                        # numpy int64 (B, S) -> float32 (B, S, V)
    state = model.state(batch=1)
    last = model.prefill(prompt, state)                   # (B, V), state on the GPU
    out = model.step(next_tokens, state)                  # (B, 1) -> (B, V)
    ids = model.generate(prompt_ids, max_new_tokens=64, temperature=0.8, top_k=50)
    tok = xlstm.Tokenizer("tokenizer.json")
    tok.encode("text"), tok.decode(ids)

No build step: the module finds the shared library through XLSTM_RUNTIME_LIB,
the build tree next to this checkout (build/lib), the install prefix
(PREFIX/lib beside PREFIX/share/xlstm/python) or the linker's search path.
Every failure of the runtime raises xlstm.Error with its message.
"""

import ctypes
import ctypes.util
import os

import numpy as np

__all__ = ["Error", "Model", "State", "Tokenizer", "load_library"]


class Error(RuntimeError):
    """A failed runtime call; the message is the runtime's."""


_lib = None


def _candidates():
    env = os.environ.get("XLSTM_RUNTIME_LIB")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("../../build/lib", "../../../../lib", "../../lib"):
        yield os.path.join(here, rel, "libxlstm_runtime.so")
    found = ctypes.util.find_library("xlstm_runtime")
    if found:
        yield found


def load_library():
    """The runtime library (loaded once)."""
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        if not os.path.isabs(path) or os.path.exists(path):
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError as e:
                errors.append("%s: %s" % (path, e))
    else:
        raise Error("libxlstm_runtime.so not found (set XLSTM_RUNTIME_LIB); "
                    + "; ".join(errors))
    _declare(lib)
    _lib = lib
    return lib


_i64p = ctypes.POINTER(ctypes.c_int64)
_f32p = ctypes.POINTER(ctypes.c_float)


class _Sampling(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_double), ("top_k", ctypes.c_int64),
                ("top_p", ctypes.c_double),
                ("repetition_penalty", ctypes.c_double),
                ("seed", ctypes.c_uint64)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int64, ctypes.c_void_p)


def _declare(lib):
    p = ctypes.c_void_p
    sigs = {
        "xlstm_last_error": (ctypes.c_char_p, []),
        "xlstm_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p,
                                            ctypes.c_int, ctypes.POINTER(p)]),
        "xlstm_model_free": (None, [p]),
        "xlstm_model_set_weights": (ctypes.c_int, [p, ctypes.c_char_p,
                                                   ctypes.c_uint64]),
        "xlstm_model_set_graph_replay": (ctypes.c_int, [p, ctypes.c_int]),
        "xlstm_model_takes_tokens": (ctypes.c_int, [p]),
        "xlstm_model_input_width": (ctypes.c_int64, [p]),
        "xlstm_model_output_width": (ctypes.c_int64, [p]),
        "xlstm_state_create": (ctypes.c_int, [p, ctypes.c_int64,
                                              ctypes.POINTER(p)]),
        "xlstm_state_free": (None, [p]),
        "xlstm_model_forward": (ctypes.c_int, [p, ctypes.c_int64,
                                               ctypes.c_int64, p, _f32p, p]),
        "xlstm_model_prefill": (ctypes.c_int, [p, ctypes.c_int64,
                                               ctypes.c_int64, p, _f32p, p]),
        "xlstm_model_step": (ctypes.c_int, [p, p, _f32p, p]),
        "xlstm_model_generate": (ctypes.c_int, [
            p, _i64p, ctypes.c_int64, ctypes.POINTER(_Sampling),
            ctypes.c_int64, _i64p, ctypes.c_size_t, _i64p, _i64p, _Callback,
            p]),
        "xlstm_tokenizer_load": (ctypes.c_int, [ctypes.c_char_p,
                                                ctypes.POINTER(p)]),
        "xlstm_tokenizer_free": (None, [p]),
        "xlstm_tokenizer_encode": (ctypes.c_int, [
            p, ctypes.c_char_p, ctypes.c_size_t, _i64p, ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t)]),
        "xlstm_tokenizer_decode": (ctypes.c_int, [
            p, _i64p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t)]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def _check(status):
    if status != 0:
        raise Error(load_library().xlstm_last_error().decode("utf-8",
                                                             "replace"))


def _tokens(array, what, rank=2):
    """`array` as a C-contiguous int64 array of `rank` dimensions."""
    a = np.asarray(array)
    if a.dtype.kind not in "iu":
        raise ValueError("%s must hold integer token ids, got dtype %s"
                         % (what, a.dtype))
    if a.ndim != rank:
        raise ValueError("%s must have %d dimensions, got shape %s"
                         % (what, rank, a.shape))
    if a.size == 0:
        raise ValueError("%s is empty" % what)
    return np.ascontiguousarray(a, dtype=np.int64)


def _embeddings(array, width, what):
    a = np.asarray(array)
    if a.ndim != 3 or a.shape[2] != width or a.size == 0:
        raise ValueError("%s must be (batch, seq, %d) embeddings, got shape %s"
                         % (what, width, a.shape))
    return np.ascontiguousarray(a, dtype=np.float32)


class State:
    """Recurrent states of a batch, kept on the GPU."""

    def __init__(self, model, batch):
        self._lib = load_library()
        self._model = model  # states go before their model
        self.batch = int(batch)
        self._handle = ctypes.c_void_p()
        _check(self._lib.xlstm_state_create(model._handle, self.batch,
                                            ctypes.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None) and self._handle.value:
            self._lib.xlstm_state_free(self._handle)
            self._handle = ctypes.c_void_p()


class Model:
    """A bundle's programs for one element type, loaded on a GPU."""

    def __init__(self, bundle, dtype="f32", device=0):
        self._lib = load_library()
        self._handle = ctypes.c_void_p()
        _check(self._lib.xlstm_model_load(os.fsencode(bundle),
                                          dtype.encode(), int(device),
                                          ctypes.byref(self._handle)))
        self.takes_tokens = bool(self._lib.xlstm_model_takes_tokens(
            self._handle))
        self.input_width = int(self._lib.xlstm_model_input_width(self._handle))
        self.output_width = int(self._lib.xlstm_model_output_width(
            self._handle))

    def __del__(self):
        if getattr(self, "_handle", None) and self._handle.value:
            self._lib.xlstm_model_free(self._handle)
            self._handle = ctypes.c_void_p()

    def set_weights(self, path=None, seed=0):
        """A checkpoint (file, index or folder; upstream or HF names), or
        upstream's random init from `seed` when `path` is None."""
        _check(self._lib.xlstm_model_set_weights(
            self._handle, None if path is None else os.fsencode(path),
            int(seed)))

    def set_graph_replay(self, on):
        _check(self._lib.xlstm_model_set_graph_replay(self._handle, int(on)))

    def _input(self, inputs, what):
        if self.takes_tokens:
            return _tokens(inputs, what)
        return _embeddings(inputs, self.input_width, what)

    def state(self, batch):
        return State(self, batch)

    def forward(self, inputs, state=None):
        """Outputs of every position (batch, seq, output_width) float32;
        the final state goes to `state` when given."""
        x = self._input(inputs, "inputs")
        b, s = x.shape[0], x.shape[1]
        out = np.empty((b, s, self.output_width), dtype=np.float32)
        _check(self._lib.xlstm_model_forward(
            self._handle, b, s, x.ctypes.data_as(ctypes.c_void_p),
            out.ctypes.data_as(_f32p), state._handle if state else None))
        return out

    def prefill(self, inputs, state):
        """The last position's outputs (batch, output_width); the final
        state stays on the GPU in `state`."""
        x = self._input(inputs, "inputs")
        out = np.empty((x.shape[0], self.output_width), dtype=np.float32)
        _check(self._lib.xlstm_model_prefill(
            self._handle, x.shape[0], x.shape[1],
            x.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(_f32p),
            state._handle))
        return out

    def step(self, inputs, state):
        """One position per row: inputs (batch, 1); returns (batch,
        output_width) and updates `state` on the GPU."""
        x = self._input(inputs, "inputs")
        if x.shape[0] != state.batch or x.shape[1] != 1:
            raise ValueError("step takes (batch=%d, 1) inputs, got shape %s"
                             % (state.batch, x.shape))
        out = np.empty((state.batch, self.output_width), dtype=np.float32)
        _check(self._lib.xlstm_model_step(
            self._handle, x.ctypes.data_as(ctypes.c_void_p),
            out.ctypes.data_as(_f32p), state._handle))
        return out

    def generate(self, prompt, max_new_tokens=64, temperature=0.0, top_k=0,
                 top_p=1.0, repetition_penalty=1.0, seed=0, eos=(),
                 callback=None):
        """Token ids after `prompt` (1-d ids), sampled on the host from
        GPU decoding; `callback(token)` returning True stops."""
        ids = _tokens(prompt, "prompt", rank=1)
        stops = np.ascontiguousarray(np.asarray(list(eos), dtype=np.int64))
        out = np.empty(max(int(max_new_tokens), 1), dtype=np.int64)
        count = ctypes.c_int64()
        sampling = _Sampling(temperature, top_k, top_p, repetition_penalty,
                             seed)
        cb = _Callback(lambda t, _: 1 if callback and callback(int(t)) else 0)
        _check(self._lib.xlstm_model_generate(
            self._handle, ids.ctypes.data_as(_i64p), ids.size,
            ctypes.byref(sampling), int(max_new_tokens),
            stops.ctypes.data_as(_i64p) if stops.size else None, stops.size,
            out.ctypes.data_as(_i64p), ctypes.byref(count), cb, None))
        return out[:count.value].copy()


class Tokenizer:
    """A Hugging Face tokenizer.json (byte-level BPE, e.g. GPT-NeoX-20B)."""

    def __init__(self, path):
        self._lib = load_library()
        self._handle = ctypes.c_void_p()
        _check(self._lib.xlstm_tokenizer_load(os.fsencode(path),
                                              ctypes.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None) and self._handle.value:
            self._lib.xlstm_tokenizer_free(self._handle)
            self._handle = ctypes.c_void_p()

    def encode(self, text):
        """int64 ids of `text` (str or UTF-8 bytes)."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        count = ctypes.c_size_t()
        _check(self._lib.xlstm_tokenizer_encode(self._handle, data, len(data),
                                                None, 0, ctypes.byref(count)))
        ids = np.empty(count.value, dtype=np.int64)
        _check(self._lib.xlstm_tokenizer_encode(
            self._handle, data, len(data), ids.ctypes.data_as(_i64p),
            ids.size, ctypes.byref(count)))
        return ids

    def decode(self, ids):
        """The text of `ids` (special tokens skipped)."""
        a = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).ravel())
        length = ctypes.c_size_t()
        _check(self._lib.xlstm_tokenizer_decode(
            self._handle, a.ctypes.data_as(_i64p), a.size, None, 0,
            ctypes.byref(length)))
        buf = ctypes.create_string_buffer(length.value + 1)
        _check(self._lib.xlstm_tokenizer_decode(
            self._handle, a.ctypes.data_as(_i64p), a.size, buf,
            length.value + 1, ctypes.byref(length)))
        return buf.raw[:length.value].decode("utf-8", "replace")
