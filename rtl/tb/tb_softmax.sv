// Drives softmax with softmax/*.hex: per vector one row of 64 scores with its multiplier
// register; checks every exp, the sum and reciprocal, then every probability, in order.
// First checks that the module's ROMs equal the vector set's exp ROMs.
`include "tb_common.svh"
module tb_softmax #(
    // The ROM images the module loads (run-tests.sh passes rtl/rom's absolute paths).
    parameter HI_ROM = "rtl/rom/exp_hi.hex",
    parameter LO_ROM = "rtl/rom/exp_lo.hex"
);
  localparam ROW = 64, V = `TB_MAX_VECTORS;
  logic [31:0] scores_m [V*ROW];
  logic [23:0] mantissa_m [V];
  logic [15:0] shift_m [V];
  logic [24:0] hi_m [256], lo_m [256], exp_m [V*ROW];
  logic [47:0] sum_m [V];
  logic [27:0] recip_m [V];
  logic [11:0] prob_m [V*ROW];

  logic clk = 0, rst = 1, in_valid = 0, in_last = 0;
  logic signed [31:0] in_score = '0;
  logic [23:0] mult_mantissa = '0;
  logic signed [15:0] mult_shift = '0;
  logic in_ready, exp_valid, stats_valid, prob_valid, prob_last, overflow;
  logic [24:0] exp_value;
  logic [47:0] sum;
  logic [27:0] recip;
  logic [11:0] prob;
  softmax #(.FIFO_DEPTH(128), .HI_ROM(HI_ROM), .LO_ROM(LO_ROM)) dut (.*);
  always #5 clk = ~clk;

  string dir;
  int vectors, n_exp = 0, n_stats = 0, n_prob = 0;
  always @(negedge clk) if (!rst) begin
    if (exp_valid) begin
      `TB_CHECK("softmax", n_exp / ROW, $sformatf("exp[%0d]", n_exp % ROW), exp_m[n_exp],
                exp_value)
      n_exp++;
    end
    if (stats_valid) begin
      `TB_CHECK("softmax", n_stats, "sum", sum_m[n_stats], sum)
      `TB_CHECK("softmax", n_stats, "recip", recip_m[n_stats], recip)
      n_stats++;
    end
    if (prob_valid) begin
      `TB_CHECK("softmax", n_prob / ROW, $sformatf("prob[%0d]", n_prob % ROW), prob_m[n_prob],
                prob)
      `TB_CHECK("softmax", n_prob / ROW, "prob_last", n_prob % ROW == ROW - 1, prob_last)
      n_prob++;
    end
    if (overflow) $fatal(1, "softmax: overflow set on a %0d-element row", ROW);
  end

  initial begin
    `TB_ARGS(dir, vectors)
    `TB_LOAD(dir, "softmax/scores.hex", scores_m)
    `TB_LOAD(dir, "softmax/mult_mantissa.hex", mantissa_m)
    `TB_LOAD(dir, "softmax/mult_shift.hex", shift_m)
    `TB_LOAD(dir, "softmax/exp_hi_rom.hex", hi_m)
    `TB_LOAD(dir, "softmax/exp_lo_rom.hex", lo_m)
    `TB_LOAD(dir, "softmax/exp.hex", exp_m)
    `TB_LOAD(dir, "softmax/sum.hex", sum_m)
    `TB_LOAD(dir, "softmax/recip.hex", recip_m)
    `TB_LOAD(dir, "softmax/prob.hex", prob_m)
    for (int i = 0; i < 256; i++) begin
      `TB_CHECK("softmax", 0, $sformatf("exp_hi_rom[%0d]", i), hi_m[i], dut.hi_rom[i])
      `TB_CHECK("softmax", 0, $sformatf("exp_lo_rom[%0d]", i), lo_m[i], dut.lo_rom[i])
    end
    repeat (2) @(negedge clk);
    rst = 0;
    for (int v = 0; v < vectors; v++) begin
      mult_mantissa = mantissa_m[v];
      mult_shift = shift_m[v];
      while (!in_ready) @(negedge clk);
      for (int i = 0; i < ROW; i++) begin
        in_valid = 1;
        in_last = i == ROW - 1;
        in_score = scores_m[v*ROW + i];
        @(negedge clk);
      end
      in_valid = 0;
      in_last = 0;
      // The register is held until this row's probabilities are out.
      while (n_prob < (v + 1) * ROW) @(negedge clk);
    end
    if (n_exp != vectors * ROW || n_stats != vectors)
      $fatal(1, "softmax: %0d exps, %0d sums for %0d rows", n_exp, n_stats, vectors);
    $display("PASS softmax: %0d vectors", vectors);
    $finish;
  end
endmodule
