{
  "targets": [
    {
      "target_name": "infergate_native",
      "sources": ["infergate_native.c"],
      "include_dirs": ["../include"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "libraries": ["-ldl"]
    }
  ]
}
