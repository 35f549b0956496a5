// Drives qk_lane with qk/{q,k,scores}.hex: per vector the query is held and its 16 keys
// stream one a cycle; scores come out 1 + log2(D) cycles later, in key order.
`include "tb_common.svh"
module tb_qk_lane;
  localparam D = 64, WB = 12, SB = 31, KEYS = 16, V = `TB_MAX_VECTORS;
  logic [WB-1:0] q_m [V*D];
  logic [WB-1:0] k_m [V*KEYS*D];
  logic [31:0]   scores_m [V*KEYS];

  logic clk = 0, rst = 1, in_valid = 0, out_valid;
  logic [D*WB-1:0] q = '0, k = '0;
  logic signed [SB-1:0] out_score;
  qk_lane #(.HEAD_DIM(D), .MULTIPLIER_BITS(WB), .SCORE_BITS(SB)) dut (.*);
  always #5 clk = ~clk;

  string dir;
  int vectors, got = 0;
  // The golden file holds 32-bit two's complement; the lane's 31 bits sign-extend to it.
  always @(negedge clk) if (!rst && out_valid) begin
    `TB_CHECK("qk", got / KEYS, $sformatf("score[%0d]", got % KEYS), scores_m[got],
              32'(out_score))
    got++;
  end

  initial begin
    `TB_ARGS(dir, vectors)
    `TB_LOAD(dir, "qk/q.hex", q_m)
    `TB_LOAD(dir, "qk/k.hex", k_m)
    `TB_LOAD(dir, "qk/scores.hex", scores_m)
    repeat (2) @(negedge clk);
    rst = 0;
    for (int v = 0; v < vectors; v++) begin
      logic [D*WB-1:0] qw;
      for (int d = 0; d < D; d++) qw[d*WB +: WB] = q_m[v*D + d];
      q = qw;
      for (int j = 0; j < KEYS; j++) begin
        logic [D*WB-1:0] kw;
        for (int d = 0; d < D; d++) kw[d*WB +: WB] = k_m[(v*KEYS + j)*D + d];
        k = kw;
        in_valid = 1;
        @(negedge clk);
      end
    end
    in_valid = 0;
    repeat ($clog2(D) + 3) @(negedge clk);
    if (got != vectors * KEYS) $fatal(1, "qk: %0d of %0d scores out", got, vectors * KEYS);
    $display("PASS qk_lane: %0d vectors", vectors);
    $finish;
  end
endmodule
