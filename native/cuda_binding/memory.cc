// cuda.alloc (device memory from the library's stream, stream-ordered: cudaMallocAsync, freed with
// cudaFreeAsync by dispose) and cuda.wrap (a DeviceTensor over memory allocated elsewhere, checked to be
// device memory of the current device and, where the driver says, long enough). Memory from alloc is
// usable by other streams only after cuda.synchronize().
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "../args.h"
#include "../errors.h"
#include "binding_parts.h"
#include "cuda_args.h"
#include "cuda_status.h"
#include "device_tensor.h"
#include "streams.h"

namespace ts::cuda {
namespace {

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ts_dtype dtype = ParseStorageDtype(env, info[0], "cuda.alloc dtype (argument 1)");  // i8: a byte per element
  const int64_t length = ParseInt(env, info[1], 0, kMaxElements, "cuda.alloc length (argument 2)");
  cudaStream_t s = Stream(env);
  const int dev = CurrentDeviceOrThrow(env);
  void* p = nullptr;
  if (length > 0) {
    const size_t bytes = static_cast<size_t>(length) * DtypeBytes(dtype);
    cudaError_t e = cudaMallocAsync(&p, bytes, s);
    if (e != cudaSuccess) ThrowCuda(env, "cudaMallocAsync of " + std::to_string(bytes) + " bytes", e);
  }
  return NewTensor(env, p, length, dtype, false, dev);
}

// cuMemGetAddressRange through the runtime's driver entry point (no link to libcuda): the bounds of the
// allocation holding a device address. Null when the driver does not provide it.
using GetAddressRangeFn = int (*)(unsigned long long* base, size_t* size, unsigned long long ptr);
GetAddressRangeFn AddressRangeFn() {
  static GetAddressRangeFn fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &f, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      f = nullptr;
    }
    return reinterpret_cast<GetAddressRangeFn>(f);
  }();
  return fn;
}

Napi::Value Wrap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t addr = ParseBigPointer(env, info[0], "cuda.wrap pointer (argument 1)");
  const int64_t bytes = ParseInt(env, info[1], 0, kMaxElements * 4, "cuda.wrap byteLength (argument 2)");
  const ts_dtype dtype = ParseStorageDtype(env, info[2], "cuda.wrap dtype (argument 3)");
  const int es = DtypeBytes(dtype);
  TS_REQUIRE(env, bytes % es == 0, "ERR_LENGTH",
             "cuda.wrap byteLength " + std::to_string(bytes) + " is not a whole number of " + DtypeName(dtype) + " elements");
  TS_REQUIRE(env, addr != 0, "ERR_INVALID_ARGUMENT", "cuda.wrap pointer must not be 0n");
  TS_REQUIRE(env, addr % es == 0, "ERR_INVALID_ARGUMENT",
             "cuda.wrap pointer " + Hex(addr) + " is not aligned to its " + std::to_string(es) + "-byte " +
                 DtypeName(dtype) + " elements");
  cudaStream_t s = Stream(env);
  const int dev = CurrentDeviceOrThrow(env);
  void* p = reinterpret_cast<void*>(static_cast<uintptr_t>(addr));
  cudaPointerAttributes attr;
  cudaError_t e = cudaPointerGetAttributes(&attr, p);
  if (e != cudaSuccess) {
    cudaGetLastError();
    Throw(env, "ERR_DEVICE", "cuda.wrap: the pointer is not CUDA memory (" + CudaMessage(e) + ")");
  }
  TS_REQUIRE(env, attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged, "ERR_DEVICE",
             std::string("cuda.wrap: the pointer is ") +
                 (attr.type == cudaMemoryTypeHost ? "pinned host memory" : "not device memory (host or unregistered)") +
                 "; wrap device memory of the current device");
  TS_REQUIRE(env, attr.device == dev, "ERR_DEVICE",
             "cuda.wrap: the pointer belongs to CUDA device " + std::to_string(attr.device) + ", the current device is " +
                 std::to_string(dev));
  // Size: the runtime API cannot bound an allocation; the driver's cuMemGetAddressRange can, reached
  // through cudaGetDriverEntryPointByVersion. Without it only the start of the range is checked.
  if (GetAddressRangeFn range = AddressRangeFn()) {
    unsigned long long base = 0;
    size_t size = 0;
    if (range(&base, &size, addr) == 0) {
      const unsigned long long end = base + size;
      TS_REQUIRE(env, addr + static_cast<unsigned long long>(bytes) <= end, "ERR_LENGTH",
                 "cuda.wrap byteLength " + std::to_string(bytes) + " runs past the end of the allocation holding the pointer (" +
                     std::to_string(end - addr) + " bytes from the pointer to its end)");
    }
  }
  // A producer stream: our stream waits for the work queued on it so far.
  if (info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()) {
    const uint64_t sh = ParseBigPointer(env, info[3], "cuda.wrap stream (argument 4)");
    cudaStream_t producer = reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(sh));
    if (producer != s) {
      cudaEvent_t ev;
      CheckCuda(env, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreateWithFlags");
      e = cudaEventRecord(ev, producer);
      if (e == cudaSuccess) e = cudaStreamWaitEvent(s, ev, 0);
      cudaEventDestroy(ev);
      if (e != cudaSuccess) ThrowCuda(env, "cuda.wrap: ordering after the given stream", e);
    }
  }
  return NewTensor(env, p, bytes / es, dtype, true, dev);
}

}  // namespace

void AddMemoryFunctions(Napi::Env env, Napi::Object cuda) {
  cuda.Set("alloc", Napi::Function::New(env, Alloc, "alloc"));
  cuda.Set("wrap", Napi::Function::New(env, Wrap, "wrap"));
}

}  // namespace ts::cuda
