{
  "targets": [
    {
      "target_name": "taylorseer",
      "sources": [
        "native/addon.cc",
        "native/addon_data.cc",
        "native/args.cc",
        "native/async_staging.cc",
        "native/convert_binding.cc",
        "native/cpu_kernels.cc",
        "native/cpu_kernels_avx2.cc",
        "native/cpu_kernels_generic.cc",
        "native/environment.cc",
        "native/errors.cc",
        "native/kernel_async.cc",
        "native/kernel_binding.cc",
        "native/kernel_run.cc",
        "native/kernel_table.cc",
        "native/no_cuda.cc",
        "native/thread_pool.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "."],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "TS_BUILD_SYSTEM=\"node-gyp\""],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags!": ["-fno-exceptions"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" }
    }
  ]
}
