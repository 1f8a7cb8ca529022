# CUDA sources, included by the top-level CMakeLists.txt when a CUDA compiler is found.
# TS_CUDA_SOURCES, the shipped kernels: update.cu, forecast.cu (fused, multi-tensor); launch.cu (tables,
# device caches, last error, the can-this-build-run-here probe).
# TS_CUDA_BENCH_SOURCES, benchmark and baseline code, built into the addon only with TAYLORSEER_BENCH=ON
# (and always into cuda/tests' ts_cuda_tool): fill.cu (random fill), eager_baseline.cu (BASELINE ONLY),
# bench.cu (cuda.bench: event timing of the kernels, the baseline and a device copy).
# The Node-API side (native/cuda_*.cc) is picked up by the native/*.cc glob and compiled with TS_HAVE_CUDA.
set(TS_CUDA_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/launch.cu
  ${CMAKE_CURRENT_LIST_DIR}/update.cu
  ${CMAKE_CURRENT_LIST_DIR}/forecast.cu)
set(TS_CUDA_BENCH_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/fill.cu
  ${CMAKE_CURRENT_LIST_DIR}/eager_baseline.cu
  ${CMAKE_CURRENT_LIST_DIR}/bench.cu)
# native/*.cc files of the CUDA binding (already in CMakeLists.txt's native/*.cc glob; listed for builds that
# name sources explicitly, e.g. binding.gyp must list them for the CPU-only stubs).
set(TS_NATIVE_CUDA_BINDING_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/../native/cuda_binding.cc
  ${CMAKE_CURRENT_LIST_DIR}/../native/cuda_bench.cc)
