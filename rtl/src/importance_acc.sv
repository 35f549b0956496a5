// Importance accumulators (SPEC.md 8), one registered update a cycle:
// - ADDERS token lanes: score (TOKEN_BITS unsigned) += probability (PROB_BITS), saturating at
//   2^TOKEN_BITS - 1;
// - one head unit: score (HEAD_BITS unsigned, Q.FRAC_BITS) += scale_mul(sum |o|, V word scale
//   register, FRAC_BITS), saturating at 2^HEAD_BITS - 1.
// The accumulators themselves live in the on-chip score memories; this is their add path.
module importance_acc #(
    parameter ADDERS = 8,
    parameter TOKEN_BITS = 32,
    parameter PROB_BITS = 12,
    parameter HEAD_BITS = 48,
    parameter FRAC_BITS = 16,
    parameter ABS_SUM_BITS = 32
) (
    input  logic                         clk,
    input  logic                         in_valid,
    input  logic [ADDERS*TOKEN_BITS-1:0] token_in,
    input  logic [ADDERS*PROB_BITS-1:0]  token_prob,
    input  logic [HEAD_BITS-1:0]         head_in,
    input  logic [ABS_SUM_BITS-1:0]      head_abs_sum,
    input  logic [23:0]                  head_scale_mantissa,
    input  logic signed [15:0]           head_scale_shift,
    output logic                         out_valid,
    output logic [ADDERS*TOKEN_BITS-1:0] token_out,
    output logic [HEAD_BITS-1:0]         head_out
);
  localparam [TOKEN_BITS-1:0] TOKEN_MAX = {TOKEN_BITS{1'b1}};
  localparam [HEAD_BITS-1:0] HEAD_MAX = {HEAD_BITS{1'b1}};

  for (genvar i = 0; i < ADDERS; i++) begin : g_token
    wire [TOKEN_BITS:0] sum = (TOKEN_BITS+1)'(token_in[i*TOKEN_BITS +: TOKEN_BITS])
                            + (TOKEN_BITS+1)'(token_prob[i*PROB_BITS +: PROB_BITS]);
    always_ff @(posedge clk)
      token_out[i*TOKEN_BITS +: TOKEN_BITS] <= sum[TOKEN_BITS] ? TOKEN_MAX : sum[TOKEN_BITS-1:0];
  end

  // The increment saturated at HEAD_BITS already saturates the sum (the reference saturates
  // the increment at 2^64 - 1, then the sum at 2^HEAD_BITS - 1: the same result).
  logic [HEAD_BITS-1:0] inc;
  scale_mul #(.X_BITS(ABS_SUM_BITS), .FRAC_BITS(FRAC_BITS), .OUT_BITS(HEAD_BITS)) u_inc (
      .x(head_abs_sum), .mantissa(head_scale_mantissa), .shift(head_scale_shift), .y(inc));
  wire [HEAD_BITS:0] head_sum = (HEAD_BITS+1)'(head_in) + (HEAD_BITS+1)'(inc);

  always_ff @(posedge clk) begin
    out_valid <= in_valid;
    head_out <= head_sum[HEAD_BITS] ? HEAD_MAX : head_sum[HEAD_BITS-1:0];
  end
endmodule
