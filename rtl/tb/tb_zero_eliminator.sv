// Drives zero_eliminator with the golden vectors zero_eliminator/{values,keep,out,count}.hex.
`include "tb_common.svh"
module tb_zero_eliminator;
  localparam N = 64, W = 16, CW = $clog2(N + 1), M = `TB_MAX_VECTORS * N;
  logic [W-1:0]  values [M];
  logic [0:0]    keep   [M];
  logic [W-1:0]  out_m  [M];
  logic [7:0]    count  [`TB_MAX_VECTORS];

  logic [N*W-1:0] in_value, out_value;
  logic [N-1:0]   in_keep;
  logic [CW-1:0]  out_count;
  zero_eliminator #(.N(N), .W(W)) dut (.*);

  initial begin
    string dir;
    int vectors;
    `TB_ARGS(dir, vectors)
    `TB_LOAD(dir, "zero_eliminator/values.hex", values)
    `TB_LOAD(dir, "zero_eliminator/keep.hex", keep)
    `TB_LOAD(dir, "zero_eliminator/out.hex", out_m)
    `TB_LOAD(dir, "zero_eliminator/count.hex", count)
    for (int v = 0; v < vectors; v++) begin
      logic [N*W-1:0] value_word;
      logic [N-1:0] keep_word;
      for (int i = 0; i < N; i++) begin
        value_word[i*W +: W] = values[v*N + i];
        keep_word[i] = keep[v*N + i][0];
      end
      in_value = value_word;
      in_keep = keep_word;
      #1;
      `TB_CHECK("zero_eliminator", v, "count", count[v], 8'(out_count))
      for (int i = 0; i < N; i++)
        `TB_CHECK("zero_eliminator", v, $sformatf("out[%0d]", i), out_m[v*N + i],
                  out_value[i*W +: W])
    end
    $display("PASS zero_eliminator: %0d vectors", vectors);
    $finish;
  end
endmodule
