"""ctypes binding of libtaylorseer (cuda/taylorseer.h) for PyTorch tensors: data pointers in, PyTorch's
current CUDA stream for the launches. Entry tables are built once per set of cache entries and patched in
place per step (pointers of the step's tensors, counts), so a step costs one ctypes call per launch.

The struct layouts below mirror taylorseer.h; load() compares their sizes with the library's own
(ts_entry_sizes) and refuses a library whose layout differs.
"""
import ctypes
import os

MAX_ORDER = 4
MAX_FACTORS = MAX_ORDER + 1
DTYPES = {"f32": 0, "f16": 1, "bf16": 2}
STATUS = {0: "TS_OK", 1: "TS_ERR_INVALID_ARGUMENT", 2: "TS_ERR_CUDA", 3: "TS_ERR_NOT_COMPILED"}


class UpdateEntry(ctypes.Structure):
    _fields_ = [("factors", ctypes.c_void_p), ("fresh", ctypes.c_void_p), ("n", ctypes.c_int64),
                ("old_count", ctypes.c_int32), ("new_count", ctypes.c_int32),
                ("divisors", ctypes.c_float * MAX_ORDER), ("stats", ctypes.c_void_p)]


class ForecastEntry(ctypes.Structure):
    _fields_ = [("factors", ctypes.c_void_p), ("out", ctypes.c_void_p), ("residual", ctypes.c_void_p),
                ("gate", ctypes.c_void_p), ("n", ctypes.c_int64), ("tokens", ctypes.c_int64), ("dim", ctypes.c_int64),
                ("count", ctypes.c_int32), ("coeffs", ctypes.c_float * MAX_FACTORS)]


class TsError(RuntimeError):
    pass


def dtype_name(t):
    import torch
    names = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}
    if t not in names:
        raise TsError(f"dtype {t} is not one of f32, f16, bf16")
    return names[t]


class Lib:
    def __init__(self, path):
        self.path = path
        L = ctypes.CDLL(path)
        P, I32, I64, E = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64, ctypes.c_int
        for name, args in {
            "ts_cuda_update": [P, I32, E, E, P],
            "ts_cuda_forecast": [P, I32, E, E, P],
            "ts_cuda_update_indirect": [P, I32, E, E, P, I64, P],
            "ts_cuda_forecast_indirect": [P, I32, E, E, P, I64, P],
            "ts_cpu_update": [P, I32, E, E],
            "ts_cpu_forecast": [P, I32, E, E],
            "ts_cuda_usable": [],
        }.items():
            f = getattr(L, name)
            f.argtypes = args
            f.restype = ctypes.c_int
        for name in ("ts_cuda_last_error", "ts_cpu_last_error"):
            getattr(L, name).restype = ctypes.c_char_p
            getattr(L, name).argtypes = []
        L.ts_entry_sizes.argtypes = [ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64)]
        L.ts_entry_sizes.restype = None
        u, f = ctypes.c_int64(), ctypes.c_int64()
        L.ts_entry_sizes(ctypes.byref(u), ctypes.byref(f))
        if (u.value, f.value) != (ctypes.sizeof(UpdateEntry), ctypes.sizeof(ForecastEntry)):
            raise TsError(f"{path}: entry sizes {u.value}/{f.value} differ from this binding's "
                          f"{ctypes.sizeof(UpdateEntry)}/{ctypes.sizeof(ForecastEntry)}: update tsffi.py to taylorseer.h")
        self.L = L

    def _check(self, status, what, cuda=True):
        if status != 0:
            msg = (self.L.ts_cuda_last_error() if cuda else self.L.ts_cpu_last_error()) or b""
            raise TsError(f"{what}: {STATUS.get(status, status)}: {msg.decode()}")

    def cuda_usable(self):
        st = self.L.ts_cuda_usable()
        return st == 0, ("" if st == 0 else (self.L.ts_cuda_last_error() or b"").decode())

    # Launches. `values`: a device address (int) of the step's divisors / coefficients (indirect), stride in
    # floats between entries' rows (0: one shared row).
    def update_indirect(self, table, storage, act, values, stride, stream):
        self._check(self.L.ts_cuda_update_indirect(table.ptr, table.count, DTYPES[storage], DTYPES[act], values, stride, stream),
                    "ts_cuda_update_indirect")

    def forecast_indirect(self, table, storage, act, values, stride, stream, first=0, count=None):
        n = table.count - first if count is None else count
        self._check(self.L.ts_cuda_forecast_indirect(table.at(first), n, DTYPES[storage], DTYPES[act], values, stride, stream),
                    "ts_cuda_forecast_indirect")

    def update_cpu(self, table, storage, act):
        self._check(self.L.ts_cpu_update(table.ptr, table.count, DTYPES[storage], DTYPES[act]), "ts_cpu_update", cuda=False)

    def forecast_cpu(self, table, storage, act, first=0, count=None):
        n = table.count - first if count is None else count
        self._check(self.L.ts_cpu_forecast(table.at(first), n, DTYPES[storage], DTYPES[act]), "ts_cpu_forecast", cuda=False)


class Table:
    """A ctypes array of entries that stays at one address (patched in place between launches)."""

    def __init__(self, cls, count):
        self.cls = cls
        self.count = count
        self.arr = (cls * count)()
        self.ptr = ctypes.addressof(self.arr)

    def at(self, i):
        return self.ptr + i * ctypes.sizeof(self.cls)

    def __getitem__(self, i):
        return self.arr[i]


def find_library():
    """TAYLORSEER_LIB, else build/Release/libtaylorseer.so of this checkout."""
    p = os.environ.get("TAYLORSEER_LIB")
    if p:
        return p
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, "build", "Release", "libtaylorseer.so")
