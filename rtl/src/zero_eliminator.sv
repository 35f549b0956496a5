// Zero eliminator (SPEC.md 6.3): packs the kept elements of N inputs to the front, in input
// order, zero-filling the rest. drops[i] = dropped elements before i (a prefix sum of the
// drop flags); then ceil(log2(N + 1)) shift layers, layer j moving an element down by 2^j
// when bit j of its drop count is set. Kept elements never collide (after layer j one sits
// at i - (drops[i] mod 2^(j+1)), strictly increasing in i), so each slot is a 2:1 mux.
// Purely combinational; ports are flat vectors, element i in bits [i*W +: W].
module zero_eliminator #(
    parameter N = 64,
    parameter W = 16
) (
    input  logic [N*W-1:0]           in_value,
    input  logic [N-1:0]             in_keep,
    output logic [N*W-1:0]           out_value,
    output logic [$clog2(N+1)-1:0]   out_count
);
  localparam CW = $clog2(N + 1);     // a count of 0..N
  localparam LAYERS = CW;            // ceil(log2(N + 1)), as the reference runs it

  // Layer s of the flat vectors holds the slots after s layers: value, drop count, valid
  // (flat, as Yosys 0.23 reads no multi-dimensional packed arrays).
  logic [(LAYERS+1)*N*W-1:0]  v  /* verilator split_var */;
  logic [(LAYERS+1)*N*CW-1:0] z  /* verilator split_var */;
  logic [(LAYERS+1)*N-1:0]    ok /* verilator split_var */;
  `define V(s, i) v[((s)*N + (i))*W +: W]
  `define Z(s, i) z[((s)*N + (i))*CW +: CW]
  `define OK(s, i) ok[(s)*N + (i)]

  // Prefix sum of the drop flags.
  logic [(N+1)*CW-1:0] drops /* verilator split_var */;
  assign drops[0 +: CW] = '0;
  for (genvar i = 0; i < N; i++) begin : g_in
    assign drops[(i+1)*CW +: CW] = drops[i*CW +: CW] + CW'(!in_keep[i]);
    assign `V(0, i)  = in_value[i*W +: W];
    assign `Z(0, i)  = drops[i*CW +: CW];
    assign `OK(0, i) = in_keep[i];
  end
  assign out_count = CW'(N) - drops[N*CW +: CW];

  for (genvar j = 0; j < LAYERS; j++) begin : g_layer
    for (genvar i = 0; i < N; i++) begin : g_slot
      // Slot i keeps its element unless that moves, or takes the one 2^j above if it moves.
      wire leaves = z[(j*N + i)*CW + j];
      if (i + (1 << j) < N) begin : g_mux
        wire come = `OK(j, i + (1 << j)) && z[(j*N + i + (1 << j))*CW + j];
        assign `V(j + 1, i)  = come ? `V(j, i + (1 << j)) : `V(j, i);
        assign `Z(j + 1, i)  = come ? `Z(j, i + (1 << j)) : `Z(j, i);
        assign `OK(j + 1, i) = come || (`OK(j, i) && !leaves);
      end else begin : g_top
        assign `V(j + 1, i)  = `V(j, i);
        assign `Z(j + 1, i)  = `Z(j, i);
        assign `OK(j + 1, i) = `OK(j, i) && !leaves;
      end
    end
  end

  for (genvar i = 0; i < N; i++) begin : g_out
    assign out_value[i*W +: W] = `OK(LAYERS, i) ? `V(LAYERS, i) : '0;
  end
  // The last layer's drop counts only decide moves.
  wire unused_z = ^z[LAYERS*N*CW +: N*CW];
  `undef V
  `undef Z
  `undef OK
endmodule
