// Host-side launch support: last error per thread, device property and occupancy caches, and the
// multi-tensor table builders (prefix sums of tile counts).
#include <string.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "launch.cuh"
#include "multi_tensor.cuh"
#include "ts_cuda_extra.h"

namespace tsk {

namespace {
thread_local std::string g_last_error;

std::mutex g_mu;
DeviceInfo g_devices[64];
std::unordered_map<const void*, int> g_occupancy[64];
int g_grid_cap = 0;  // blocks per SM; 0 = occupancy
}  // namespace

ts_status Fail(ts_status status, const std::string& message) {
  g_last_error = message;
  return status;
}

ts_status Check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return TS_OK;
  return Fail(TS_ERR_CUDA, std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

void ClearError() { g_last_error.clear(); }

const char* LastError() { return g_last_error.c_str(); }

ts_status CurrentDevice(DeviceInfo* info) {
  int dev = 0;
  ts_status st = Check(cudaGetDevice(&dev), "cudaGetDevice");
  if (st != TS_OK) return st;
  if (dev < 0 || dev >= 64) return Fail(TS_ERR_CUDA, "device ordinal out of range");
  std::lock_guard<std::mutex> lock(g_mu);
  DeviceInfo& d = g_devices[dev];
  if (d.device < 0) {
    int sms = 0, threads = 0;
    st = Check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    if (st != TS_OK) return st;
    st = Check(cudaDeviceGetAttribute(&threads, cudaDevAttrMaxThreadsPerMultiProcessor, dev), "cudaDeviceGetAttribute");
    if (st != TS_OK) return st;
    d.sms = sms;
    d.max_threads_per_sm = threads;
    d.device = dev;
  }
  *info = d;
  return TS_OK;
}

ts_status BlocksPerSm(const void* kernel, int device, int threads, int* blocks) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_occupancy[device].find(kernel);
    if (it != g_occupancy[device].end()) {
      *blocks = it->second;
      return TS_OK;
    }
  }
  int b = 0;
  ts_status st = Check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, kernel, threads, 0),
                       "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  if (st != TS_OK) return st;
  if (b < 1) b = 1;
  std::lock_guard<std::mutex> lock(g_mu);
  g_occupancy[device][kernel] = b;
  *blocks = b;
  return TS_OK;
}

ts_status GridFor(const void* kernel, int64_t tiles, int threads, int* grid) {
  DeviceInfo info;
  ts_status st = CurrentDevice(&info);
  if (st != TS_OK) return st;
  int per_sm = 0;
  st = BlocksPerSm(kernel, info.device, threads, &per_sm);
  if (st != TS_OK) return st;
  if (g_grid_cap > 0 && g_grid_cap < per_sm) per_sm = g_grid_cap;
  const int64_t resident = static_cast<int64_t>(per_sm) * info.sms;
  *grid = static_cast<int>(tiles < resident ? tiles : resident);
  return TS_OK;
}

bool ValidDtype(ts_dtype d) { return d == TS_F32 || d == TS_F16 || d == TS_BF16; }

bool ValidStorage(ts_dtype d) { return ValidDtype(d) || d == TS_I8; }

ts_status CheckIndirect(const float* values, int64_t stride, const char* fn, const char* what) {
  if (values && stride >= 0) return TS_OK;
  ClearError();
  return Fail(TS_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + what + " must be a device pointer and stride >= 0");
}

// Tiles of an entry of n elements: kThreads * unroll vectors of V, or for TS_I8 kThreads records (a thread
// per record, q8.cuh).
static int64_t TilesOf(int64_t n, ts_dtype storage, int V, int64_t per_tile) {
  return storage == TS_I8 ? CeilDiv(ts_q8_blocks(n), kThreads) : CeilDiv(CeilDiv(n, V), per_tile);
}

// Fills p from entries[first..]: up to kTableCap non-empty entries, each with its n, its factor count
// (count_of) and its first tile, a prefix sum of the tile counts at the unroll of the table's largest count
// (UnrollForCount); fill(s, d, i) sets the rest of p's entry d from entries[i] = s. Returns the index after
// the last entry looked at.
template <class Entry, class Params, class CountOf, class Fill>
static int BuildTable(const Entry* entries, int32_t count, int32_t first, ts_dtype storage, int V, Params* p, int* maxc,
                      CountOf count_of, Fill fill) {
  memset(p, 0, sizeof(*p));
  int idx[kTableCap];
  int num = 0, mc = 1;
  int32_t i = first;
  for (; i < count && num < kTableCap; ++i) {
    if (entries[i].n <= 0) continue;
    idx[num++] = i;
    if (count_of(entries[i]) > mc) mc = count_of(entries[i]);
  }
  const int64_t per_tile = static_cast<int64_t>(UnrollForCount(mc)) * kThreads;  // vectors per tile
  int64_t tiles = 0;
  for (int k = 0; k < num; ++k) {
    const Entry& s = entries[idx[k]];
    auto& d = p->e[k];
    d.n = s.n;
    d.count = count_of(s);
    fill(s, d, idx[k]);
    d.tile_begin = tiles;
    tiles += TilesOf(s.n, storage, V, per_tile);
  }
  p->num = num;
  p->total_tiles = tiles;
  *maxc = mc;
  return i;
}

int BuildUpdateTable(const ts_update_entry* entries, int32_t count, int32_t first, ts_dtype storage, ts_dtype act,
                     UpdParams* p, int* maxc, const float* src, int64_t stride) {
  const int ss = DtypeSize(storage);
  return BuildTable(
      entries, count, first, storage, VecWidthOf(storage, act), p, maxc, [](const ts_update_entry& s) { return s.new_count; },
      [&](const ts_update_entry& s, UpdEnt& d, int i) {
        d.factors = s.factors;
        d.fresh = s.fresh;
        d.stats = s.stats;
        d.div_src = src ? src + i * stride : nullptr;
        if (s.stats) p->any_stats = 1;
        for (int j = 0; j < TS_MAX_ORDER; ++j) d.div[j] = s.divisors[j];
        // TS_I8: d_0 and the records start 16-byte aligned when the factors do (taylorseer.h)
        const bool vec =
            Aligned16(s.factors) && Aligned16(s.fresh) && (storage == TS_I8 || s.new_count == 1 || (s.n * ss) % 16 == 0);
        d.flags = vec ? kVec : 0;
      });
}

int BuildForecastTable(const ts_forecast_entry* entries, int32_t count, int32_t first, ts_dtype storage, ts_dtype act,
                       FcParams* p, int* maxc, bool* gated, const float* src, int64_t stride) {
  const int V = storage == TS_I8 ? 16 / DtypeSize(act) : VecWidthOf(storage, act);  // TS_I8: vectors of act only
  const int ss = DtypeSize(storage), as = DtypeSize(act);
  *gated = false;
  return BuildTable(
      entries, count, first, storage, V, p, maxc, [](const ts_forecast_entry& s) { return s.count; },
      [&](const ts_forecast_entry& s, FcEnt& d, int i) {
        d.factors = s.factors;
        d.out = s.out;
        d.coef_src = src ? src + i * stride : nullptr;
        for (int j = 0; j < TS_MAX_FACTORS; ++j) d.coeffs[j] = s.coeffs[j];
        bool vec = Aligned16(s.factors) && Aligned16(s.out) && (storage == TS_I8 || s.count == 1 || (s.n * ss) % 16 == 0);
        int32_t flags = 0;
        if (s.gate) {
          *gated = true;
          flags |= kGated;
          d.gate = s.gate;
          d.residual = s.residual ? s.residual : s.out;
          d.tokens = s.tokens;
          d.dim = s.dim;
          vec = vec && Aligned16(d.residual);
          // The gate row of a vector is contiguous when no vector crosses a row of D elements.
          // Otherwise the entry takes the scalar path (a vector of V elements must share one gate row).
          if (Aligned16(s.gate) && s.dim % V == 0 && (s.dim * as) % 16 == 0) flags |= kGateVec;
          else vec = false;
          if (s.n > 0xffffffffll) {
            flags |= kDiv64;
          } else {
            d.dim_div = FastDiv::Make(static_cast<uint32_t>(s.dim));
            d.tok_div = FastDiv::Make(static_cast<uint32_t>(s.tokens));
          }
        }
        if (vec) flags |= kVec;
        d.flags = flags;
      });
}

}  // namespace tsk

extern "C" const char* ts_cuda_last_error(void) { return tsk::LastError(); }

extern "C" void ts_cuda_set_grid_cap(int blocks_per_sm) { tsk::g_grid_cap = blocks_per_sm < 0 ? 0 : blocks_per_sm; }

namespace tsk {
namespace {
// Any kernel of this build: when its attributes cannot be read, no kernel of the build runs on the device.
__global__ void ProbeKernel() {}
}  // namespace
}  // namespace tsk

extern "C" ts_status ts_cuda_check_kernels(void) {
  using namespace tsk;
  ClearError();
  cudaFuncAttributes attr;
  cudaError_t e = cudaFuncGetAttributes(&attr, ProbeKernel);
  if (e != cudaSuccess) {
    cudaGetLastError();
    int dev = 0, major = 0, minor = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    cudaGetLastError();
    return Fail(TS_ERR_CUDA, std::string("the kernels of this build cannot run on device ") + std::to_string(dev) +
                                 " (compute capability " + std::to_string(major) + "." + std::to_string(minor) +
                                 "; built for sm_90 + compute_90 PTX): " + cudaGetErrorString(e));
  }
  return TS_OK;
}
