// One Q x K lane (SPEC.md 3): score = sum_d q[d] * k[d] over HEAD_DIM signed MULTIPLIER_BITS-bit
// words, exact. One multiply stage, then a log2(HEAD_DIM)-level adder tree with a register
// per level (the arch's multiply_latency_cycles = 1, then log2(D) tree stages): latency
// 1 + log2(HEAD_DIM) cycles, one key a cycle. Each tree level is one bit wider than the one
// below, so nothing can overflow: 2 * MULTIPLIER_BITS + log2(HEAD_DIM) bits in all, <= SCORE_BITS
// (2 * 12 + 7 = 31 for D <= 128, the spec's 31-bit accumulator). The arch's `multipliers`
// (512) make multipliers / HEAD_DIM such lanes. Word d sits in bits [d*MULTIPLIER_BITS +: MULTIPLIER_BITS].
module qk_lane #(
    parameter HEAD_DIM = 64,
    parameter MULTIPLIER_BITS = 12,
    parameter SCORE_BITS = 31
) (
    input  logic                            clk,
    input  logic                            rst,
    input  logic                            in_valid,
    input  logic [HEAD_DIM*MULTIPLIER_BITS-1:0]   q,
    input  logic [HEAD_DIM*MULTIPLIER_BITS-1:0]   k,
    output logic                            out_valid,
    output logic signed [SCORE_BITS-1:0]    out_score
);
  localparam LEVELS = $clog2(HEAD_DIM);
  localparam PB = 2 * MULTIPLIER_BITS;             // one product
  localparam AB = PB + LEVELS;               // the root
  localparam D = HEAD_DIM;
  if (AB > SCORE_BITS || (1 << LEVELS) != HEAD_DIM) begin : g_bad_params
    $error("qk_lane: HEAD_DIM must be a power of two and 2*MULTIPLIER_BITS+log2(HEAD_DIM) <= SCORE_BITS");
  end

  // Level l holds D >> l sums of PB + l bits, each stored sign-extended to AB bits in the flat
  // wire vector (registers live in the generate blocks).
  /* verilator lint_off UNUSEDSIGNAL */
  wire [(LEVELS+1)*D*AB-1:0] tree;   // upper slots of each level and extension bits unread
  /* verilator lint_on UNUSEDSIGNAL */

  for (genvar d = 0; d < D; d++) begin : g_mul
    wire signed [MULTIPLIER_BITS-1:0] a = q[d*MULTIPLIER_BITS +: MULTIPLIER_BITS];
    wire signed [MULTIPLIER_BITS-1:0] b = k[d*MULTIPLIER_BITS +: MULTIPLIER_BITS];
    logic signed [PB-1:0] p;
    always_ff @(posedge clk) p <= a * b;
    assign tree[d*AB +: AB] = AB'(p);
  end

  for (genvar l = 0; l < LEVELS; l++) begin : g_level
    localparam NODES = D >> (l + 1);
    localparam W = PB + l;                 // the width of this level's inputs
    for (genvar i = 0; i < NODES; i++) begin : g_node
      wire signed [W-1:0] a = tree[(l*D + 2*i)*AB +: W];
      wire signed [W-1:0] b = tree[(l*D + 2*i + 1)*AB +: W];
      logic signed [W:0] s;
      always_ff @(posedge clk) s <= (W+1)'(a) + (W+1)'(b);
      assign tree[((l+1)*D + i)*AB +: AB] = AB'(s);
    end
    assign tree[((l+1)*D + NODES)*AB +: (D - NODES)*AB] = '0;
  end

  logic [LEVELS:0] valid;   // one bit per pipeline register
  always_ff @(posedge clk) begin
    if (rst) valid <= '0;
    else valid <= {valid[LEVELS-1:0], in_valid};
  end
  assign out_valid = valid[LEVELS];
  assign out_score = SCORE_BITS'($signed(tree[LEVELS*D*AB +: AB]));
endmodule
