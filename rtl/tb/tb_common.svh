// Shared by the testbenches: the golden directory and vector count come as plusargs
// (+dir=DIR +vectors=N; run-tests.sh reads N from DIR/manifest.json), every file is opened
// first so a missing one is an error, not silently zero memory.
`define TB_MAX_VECTORS 1024

`define TB_ARGS(dir, vectors) \
  if (!$value$plusargs("dir=%s", dir)) $fatal(1, "missing +dir=GOLDEN_DIR"); \
  if (!$value$plusargs("vectors=%d", vectors)) $fatal(1, "missing +vectors=N"); \
  if (vectors < 1 || vectors > `TB_MAX_VECTORS) \
    $fatal(1, "+vectors=%0d outside 1..%0d", vectors, `TB_MAX_VECTORS);

`define TB_LOAD_PATH(path, mem) \
  begin \
    int fd_; \
    fd_ = $fopen(path, "r"); \
    if (fd_ == 0) $fatal(1, "cannot open %s", path); \
    $fclose(fd_); \
    $readmemh(path, mem); \
  end

`define TB_LOAD(dir, file, mem) `TB_LOAD_PATH({dir, "/", file}, mem)

// Fails on the first mismatch with the module, vector index, what differs, expected, actual.
`define TB_CHECK(name_, vec_, what_, want_, got_) \
  if ((want_) !== (got_)) \
    $fatal(1, "%s: vector %0d: %s: expected %h, actual %h", name_, vec_, what_, want_, got_);
