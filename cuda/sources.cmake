# CUDA sources, included by the top-level CMakeLists.txt when a CUDA compiler is found.
# TS_CUDA_SOURCES, the shipped kernels: update.cu, forecast.cu (fused, multi-tensor); launch.cu (tables,
# device caches, last error, the can-this-build-run-here probe).
# TS_CUDA_BENCH_SOURCES, benchmark and baseline code, built into the addon only with TAYLORSEER_BENCH=ON
# (and always into cuda/tests' ts_cuda_tool): fill.cu (random fill), eager_baseline.cu (BASELINE ONLY),
# bench.cu (cuda.bench: event timing of the kernels, the baseline and a device copy).
# The Node-API side of these kernels is native/cuda_binding/*.cc, added by CMakeLists.txt with them.
set(TS_CUDA_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/launch.cu
  ${CMAKE_CURRENT_LIST_DIR}/update.cu
  ${CMAKE_CURRENT_LIST_DIR}/forecast.cu)
set(TS_CUDA_BENCH_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/fill.cu
  ${CMAKE_CURRENT_LIST_DIR}/eager_baseline.cu
  ${CMAKE_CURRENT_LIST_DIR}/bench.cu)
