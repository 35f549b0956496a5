// Drives requant_decision with requant/{prob,threshold,max,refetch}.hex: each vector is one
// row of 64 probabilities, streamed TREE_INPUTS a beat; rows go back to back.
`include "tb_common.svh"
module tb_requant_decision;
  localparam TREE_INPUTS = 8, B = 12, ROW = 64, M = `TB_MAX_VECTORS * ROW;
  logic [B-1:0] prob [M];
  logic [B-1:0] threshold_m [`TB_MAX_VECTORS];
  logic [B-1:0] max_m [`TB_MAX_VECTORS];
  logic [0:0]   refetch_m [`TB_MAX_VECTORS];

  logic clk = 0, rst = 1, in_valid = 0, in_last = 0;
  logic [TREE_INPUTS*B-1:0] in_prob = '0;
  logic [B-1:0] threshold = '0;
  logic out_valid, out_refetch;
  logic [B-1:0] out_max;
  requant_decision #(.TREE_INPUTS(TREE_INPUTS), .PROB_BITS(B)) dut (.*);
  always #5 clk = ~clk;

  string dir;
  int vectors, checked = 0;

  // Inputs change and outputs are read at the falling edge, clear of the rising one.
  // Results come out in row order; check each as it appears.
  always @(negedge clk) if (!rst && out_valid) begin
    `TB_CHECK("requant", checked, "max", max_m[checked], out_max)
    `TB_CHECK("requant", checked, "refetch", refetch_m[checked][0], out_refetch)
    checked++;
  end

  initial begin
    `TB_ARGS(dir, vectors)
    `TB_LOAD(dir, "requant/prob.hex", prob)
    `TB_LOAD(dir, "requant/threshold.hex", threshold_m)
    `TB_LOAD(dir, "requant/max.hex", max_m)
    `TB_LOAD(dir, "requant/refetch.hex", refetch_m)
    repeat (2) @(negedge clk);
    rst = 0;
    for (int v = 0; v < vectors; v++) begin
      for (int beat = 0; beat < ROW / TREE_INPUTS; beat++) begin
        in_valid = 1;
        in_last = beat == ROW / TREE_INPUTS - 1;
        for (int i = 0; i < TREE_INPUTS; i++)
          in_prob[i*B +: B] = prob[v*ROW + beat*TREE_INPUTS + i];
        // The threshold register is read at the row's end, after the tree's latency.
        threshold = threshold_m[v];
        @(negedge clk);
      end
      // Hold the threshold until this row's decision is out.
      in_valid = 0;
      in_last = 0;
      repeat ($clog2(TREE_INPUTS) + 1) @(negedge clk);
    end
    repeat (2) @(negedge clk);
    if (checked != vectors) $fatal(1, "requant: %0d of %0d rows decided", checked, vectors);
    $display("PASS requant_decision: %0d vectors", vectors);
    $finish;
  end
endmodule
