// Private copies of the host memory of an async kernel call. The call runs on the libuv pool while
// JavaScript runs on; Node-API cannot stop a caller from transferring an ArrayBuffer of the call away
// (postMessage / structuredClone with a transfer list) and letting its memory be freed. So an async call
// works on copies made when it is queued and writes its results back on the JS thread once it finishes,
// after checking that every array still holds the memory it had. Views on SharedArrayBuffers are used in
// place: their memory can neither be detached nor shrink.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "args.h"

namespace ts {

// One host tensor of a call: the reference that keeps it alive (index into the call's references), the
// memory the kernel uses of it and how, and where the call named it (entries[entry].field).
struct HostUse {
  size_t ref;
  TensorArg tensor;
  bool read, write;
  uint32_t entry;
  const char* field;
};

class Staging {
 public:
  Staging() = default;
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  ~Staging();  // the copies go back to a process-wide pool (see the .cc)
  // Copies the memory of `uses` that lies in ArrayBuffers (overlapping uses share one copy; memory that is
  // only written is not copied in). Throws ERR_INVALID_ARGUMENT when the copy cannot be allocated.
  void Stage(Napi::Env env, const std::vector<HostUse>& uses);
  // Where the kernel finds the memory at p: inside a copy, or p itself when it was not staged.
  template <typename T>
  T* Map(T* p) const {
    return static_cast<T*>(MapRaw(const_cast<void*>(static_cast<const void*>(p))));
  }
  // On the JS thread, after the kernel: empty when every array still holds its memory (the results are then
  // copied back), else "[i].field" of one that was detached or replaced (nothing is written).
  std::string Commit(Napi::Env env, const std::vector<HostUse>& uses, const std::vector<Napi::Reference<Napi::Value>>& refs);
  size_t BytesCopied() const { return bytes_; }

 private:
  struct Region {
    uintptr_t begin, end;
    bool read, write;
    char* block;  // at least 64 bytes more than the region: the copy keeps the address's alignment
    size_t capacity;
    char* copy;
  };
  void* MapRaw(void* p) const;
  std::vector<Region> regions_;
  size_t bytes_ = 0;
};

}  // namespace ts
