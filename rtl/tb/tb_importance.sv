// Drives importance_acc with importance/*.hex: a vector's 16 token updates go ADDERS a beat,
// its head update with the first beat.
`include "tb_common.svh"
module tb_importance;
  localparam ADDERS = 8, KEYS = 16, TB = 32, PB = 12, HB = 48, V = `TB_MAX_VECTORS;
  logic [TB-1:0] token_in_m [V*KEYS], token_out_m [V*KEYS];
  logic [PB-1:0] token_prob_m [V*KEYS];
  logic [HB-1:0] head_in_m [V], head_out_m [V];
  logic [31:0]   abs_sum_m [V];
  logic [23:0]   mantissa_m [V];
  logic [15:0]   shift_m [V];

  logic clk = 0, in_valid = 0, out_valid;
  logic [ADDERS*TB-1:0] token_in = '0, token_out;
  logic [ADDERS*PB-1:0] token_prob = '0;
  logic [HB-1:0] head_in = '0, head_out;
  logic [31:0] head_abs_sum = '0;
  logic [23:0] head_scale_mantissa = '0;
  logic signed [15:0] head_scale_shift = '0;
  importance_acc #(.ADDERS(ADDERS)) dut (.*);
  always #5 clk = ~clk;

  initial begin
    string dir;
    int vectors;
    `TB_ARGS(dir, vectors)
    `TB_LOAD(dir, "importance/token_in.hex", token_in_m)
    `TB_LOAD(dir, "importance/token_prob.hex", token_prob_m)
    `TB_LOAD(dir, "importance/token_out.hex", token_out_m)
    `TB_LOAD(dir, "importance/head_in.hex", head_in_m)
    `TB_LOAD(dir, "importance/head_abs_sum.hex", abs_sum_m)
    `TB_LOAD(dir, "importance/head_scale_mantissa.hex", mantissa_m)
    `TB_LOAD(dir, "importance/head_scale_shift.hex", shift_m)
    `TB_LOAD(dir, "importance/head_out.hex", head_out_m)
    @(negedge clk);
    for (int v = 0; v < vectors; v++) begin
      for (int beat = 0; beat < KEYS / ADDERS; beat++) begin
        logic [ADDERS*TB-1:0] ti;
        logic [ADDERS*PB-1:0] tp;
        for (int i = 0; i < ADDERS; i++) begin
          ti[i*TB +: TB] = token_in_m[v*KEYS + beat*ADDERS + i];
          tp[i*PB +: PB] = token_prob_m[v*KEYS + beat*ADDERS + i];
        end
        token_in = ti;
        token_prob = tp;
        head_in = head_in_m[v];
        head_abs_sum = abs_sum_m[v];
        head_scale_mantissa = mantissa_m[v];
        head_scale_shift = shift_m[v];
        in_valid = 1;
        @(negedge clk);
        if (!out_valid) $fatal(1, "importance: vector %0d: no output a cycle after the input", v);
        for (int i = 0; i < ADDERS; i++)
          `TB_CHECK("importance", v, $sformatf("token_out[%0d]", beat*ADDERS + i),
                    token_out_m[v*KEYS + beat*ADDERS + i], token_out[i*TB +: TB])
        `TB_CHECK("importance", v, "head_out", head_out_m[v], head_out)
      end
    end
    $display("PASS importance_acc: %0d vectors", vectors);
    $finish;
  end
endmodule
