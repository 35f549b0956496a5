// Requant decision (SPEC.md 5): the row max of 12-bit probabilities through a
// TREE_INPUTS -> 1 max tree (one register per level: log2(TREE_INPUTS) cycles, the arch's
// tree_latency_cycles), then a running max over the row's beats; at the row's last beat the
// row is flat, and its LSBs are refetched, when max < threshold. A beat carries TREE_INPUTS
// probabilities (lane i in bits [i*PROB_BITS +: PROB_BITS]); lanes past the row's end carry 0,
// which never raises an unsigned max. `threshold` is held for the row.
module requant_decision #(
    parameter TREE_INPUTS = 8,
    parameter PROB_BITS = 12
) (
    input  logic                            clk,
    input  logic                            rst,
    input  logic                            in_valid,
    input  logic                            in_last,
    input  logic [TREE_INPUTS*PROB_BITS-1:0] in_prob,
    input  logic [PROB_BITS-1:0]            threshold,
    output logic                            out_valid,
    output logic [PROB_BITS-1:0]            out_max,
    output logic                            out_refetch
);
  localparam LEVELS = $clog2(TREE_INPUTS);
  localparam B = PROB_BITS;

  // Level l (1..LEVELS) holds TREE_INPUTS >> l registered maxima; level 0 is the input. The
  // flat `tree` is wires only; each node's register lives in its generate block.
  // The zero upper slots of each level are never read.
  /* verilator lint_off UNUSEDSIGNAL */
  wire [(LEVELS+1)*TREE_INPUTS*B-1:0] tree;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [LEVELS-1:0] valid_q, last_q;
  wire [LEVELS:0] valid = {valid_q, in_valid};
  wire [LEVELS:0] last = {last_q, in_last};
  assign tree[0 +: TREE_INPUTS*B] = in_prob;

  for (genvar l = 0; l < LEVELS; l++) begin : g_level
    localparam NODES = TREE_INPUTS >> (l + 1);
    for (genvar i = 0; i < NODES; i++) begin : g_node
      wire [B-1:0] a = tree[(l*TREE_INPUTS + 2*i)*B +: B];
      wire [B-1:0] b = tree[(l*TREE_INPUTS + 2*i + 1)*B +: B];
      logic [B-1:0] q;
      always_ff @(posedge clk) q <= a > b ? a : b;
      assign tree[((l+1)*TREE_INPUTS + i)*B +: B] = q;
    end
    // A level's upper slots are unused.
    assign tree[((l+1)*TREE_INPUTS + NODES)*B +: (TREE_INPUTS - NODES)*B] = '0;
    always_ff @(posedge clk) begin
      if (rst) begin
        valid_q[l] <= 1'b0;
        last_q[l]  <= 1'b0;
      end else begin
        valid_q[l] <= valid[l];
        last_q[l]  <= last[l];
      end
    end
  end

  wire [B-1:0] beat_max = tree[LEVELS*TREE_INPUTS*B +: B];
  logic [B-1:0] running;   // max of the row's beats so far (0 at a row's start)
  logic         in_row;
  wire  [B-1:0] row_max = in_row && running > beat_max ? running : beat_max;

  always_ff @(posedge clk) begin
    if (rst) begin
      in_row    <= 1'b0;
      running   <= '0;
      out_valid <= 1'b0;
      out_max   <= '0;
      out_refetch <= 1'b0;
    end else begin
      out_valid <= 1'b0;
      if (valid[LEVELS]) begin
        running <= row_max;
        in_row  <= !last[LEVELS];
        if (last[LEVELS]) begin
          out_valid   <= 1'b1;
          out_max     <= row_max;
          out_refetch <= row_max < threshold;
        end
      end
    end
  end
endmodule
