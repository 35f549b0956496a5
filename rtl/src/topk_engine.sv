// Quick-select top-k engine (SPEC.md 6.1-6.3): the k largest of n <= FIFO_DEPTH unsigned
// values, as a keep mask and the kept positions in input order; ties keep the earliest.
//
// The values are loaded first (load_valid: COMPARATORS values a beat into the input buffer,
// which the filter pass reads again); `start` then runs the call. Each quick-select round:
//   PIVOT   the LFSR advances one word (32 steps, x^32 + x^22 + x^2 + x + 1, Galois) and the
//           pivot index is that word mod |C|; round_valid reports |C|;
//   FETCH   the pivot is read from the current buffer C;
//   STREAM  ceil(|C| / P) cycles: P elements a cycle through the two comparator arrays
//           (greater, smaller; equal counted); each array's zero eliminator packs its
//           matches, and a rotator appends them to the G or the L buffer, in stream order;
//   DECIDE  |G| > t: C = G; |G| + n_eq >= t: the pivot is the k-th largest and
//           keep_eq = t - |G|, go to the filter; else t -= |G| + n_eq, C = L.
// So a round costs ceil(|C| / P) + 3 cycles, the arch's round_overhead_cycles = 3.
// The filter pass streams the input buffer again through a three-stage pipeline: compare
// (keep = greater than the k-th, or equal and among the first keep_eq equal ones), the
// second zero eliminator over the positions, and the append to the position buffer: ceil(n
// / P) cycles, two to drain, one with `done`: the arch's filter_overhead_cycles = 3.
// k = 0 keeps nothing and k >= n everything, with no rounds (done after one cycle).
// Three work buffers hold C, G and L (G and L are the two that C is not).
module topk_engine #(
    parameter FIFO_DEPTH = 64,
    parameter COMPARATORS = 16,
    parameter VALUE_BITS = 32
) (
    input  logic                                   clk,
    input  logic                                   rst,
    input  logic                                   load_valid,
    input  logic [$clog2(FIFO_DEPTH/COMPARATORS+1)-1:0] load_beat,
    input  logic [COMPARATORS*VALUE_BITS-1:0]      load_value,
    input  logic                                   start,
    input  logic [$clog2(FIFO_DEPTH+1)-1:0]        n,
    input  logic [$clog2(FIFO_DEPTH+1)-1:0]        k,
    input  logic [31:0]                            lfsr_state,
    output logic                                   busy,
    output logic                                   done,
    output logic                                   round_valid,
    output logic [$clog2(FIFO_DEPTH+1)-1:0]        round_size,
    output logic [FIFO_DEPTH-1:0]                  keep_mask,
    output logic [FIFO_DEPTH*$clog2(FIFO_DEPTH)-1:0] positions,
    output logic [$clog2(FIFO_DEPTH+1)-1:0]        kept,
    output logic [VALUE_BITS-1:0]                  kth,
    output logic [$clog2(FIFO_DEPTH+1)-1:0]        keep_eq
);
  localparam N = FIFO_DEPTH, P = COMPARATORS, VB = VALUE_BITS;
  localparam IB = $clog2(N + 1);      // a count 0..N
  localparam PB = $clog2(N);          // a position
  localparam LB = $clog2(P);          // a lane
  localparam CB = $clog2(N / P + 1);  // a chunk index
  localparam PC = $clog2(P + 1);      // a count 0..P
  if (N % P != 0 || (1 << LB) != P || P < 2) begin : g_bad_params
    $error("topk_engine: COMPARATORS must be a power of two >= 2 dividing FIFO_DEPTH");
  end

  localparam [3:0] S_IDLE = 4'd0, S_PIVOT = 4'd1, S_FETCH = 4'd2, S_STREAM = 4'd3,
                   S_DECIDE = 4'd4, S_FILTER = 4'd5, S_DRAIN1 = 4'd6, S_DRAIN2 = 4'd7,
                   S_DONE = 4'd8;
  logic [3:0] state;

  function automatic [31:0] lfsr_next_word(input [31:0] s);
    logic [31:0] x;
    x = s;
    for (integer i = 0; i < 32; i++) x = x[0] ? (x >> 1) ^ 32'h8020_0003 : x >> 1;
    lfsr_next_word = x;
  endfunction

  // x mod d for a 32-bit x and a count d >= 1, by restoring division (32 compare-subtracts).
  function automatic [IB-1:0] mod_count(input [31:0] x, input [IB-1:0] d);
    logic [IB:0] r;
    r = '0;
    for (integer i = 31; i >= 0; i--) begin
      r = {r[IB-1:0], x[i]};
      if (r >= {1'b0, d}) r = r - {1'b0, d};
    end
    mod_count = r[IB-1:0];
  endfunction

  // Registers of the call.
  logic [IB-1:0] n_q, target, len, wr_g, wr_l, n_eq;
  logic [PB-1:0] idx_q;               // < len <= N
  logic [31:0]   lfsr;
  logic [VB-1:0] pivot;
  logic [CB-1:0] ch;                  // chunk of the round or of the filter pass
  logic [1:0]    cur_sel, g_sel, l_sel;  // 0 = input buffer, 1..3 = work buffers

  // The four buffers, flat: element s in bits [s*VB +: VB]; their registers live in the
  // per-slot generate blocks below.
  wire [N*VB-1:0] buf_in, buf_w1, buf_w2, buf_w3;
  wire [N*VB-1:0] cur_buf = cur_sel == 2'd0 ? buf_in : cur_sel == 2'd1 ? buf_w1
                          : cur_sel == 2'd2 ? buf_w2 : buf_w3;

  // ---- A round's stream: chunk `ch` of C through the comparator arrays.
  wire [P*VB-1:0] chunk = cur_buf[ch*P*VB +: P*VB];
  logic [P-1:0] gt, lt, eq;
  for (genvar i = 0; i < P; i++) begin : g_cmp
    wire [VB-1:0] x = chunk[i*VB +: VB];
    wire in_range = IB'(ch) * IB'(P) + IB'(i) < len;
    assign gt[i] = in_range && x > pivot;
    assign lt[i] = in_range && x < pivot;
    assign eq[i] = in_range && x == pivot;
  end
  logic [P*VB-1:0] packed_g, packed_l;
  logic [PC-1:0] cnt_g, cnt_l;
  zero_eliminator #(.N(P), .W(VB)) u_ze_g (
      .in_value(chunk), .in_keep(gt), .out_value(packed_g), .out_count(cnt_g));
  zero_eliminator #(.N(P), .W(VB)) u_ze_l (
      .in_value(chunk), .in_keep(lt), .out_value(packed_l), .out_count(cnt_l));
  logic [PC-1:0] cnt_eq;
  always_comb begin
    cnt_eq = '0;
    for (integer i = 0; i < P; i++) cnt_eq = cnt_eq + PC'(eq[i]);
  end
  // Rotate left by the append offset mod P: lane (wr + i) mod P carries packed element i,
  // so slot s of a buffer takes lane s mod P when wr <= s < wr + count.
  wire [LB-1:0] off_g = wr_g[LB-1:0], off_l = wr_l[LB-1:0];
  wire [2*P*VB-1:0] dbl_g = {packed_g, packed_g}, dbl_l = {packed_l, packed_l};
  wire [P*VB-1:0] rot_g = dbl_g[(P - 32'(off_g)) * VB +: P*VB];
  wire [P*VB-1:0] rot_l = dbl_l[(P - 32'(off_l)) * VB +: P*VB];

  // ---- The filter pass: stage A compares chunk `ch` of the input buffer.
  logic [VB-1:0] thr;
  logic [IB-1:0] eq_seen;             // equal elements met so far in the filter pass
  wire [P*VB-1:0] in_chunk = buf_in[ch*P*VB +: P*VB];
  logic [P-1:0] keep_a;
  logic [IB-1:0] eq_a;
  always_comb begin
    logic [IB-1:0] rank;
    rank = eq_seen;
    for (integer i = 0; i < P; i++) begin
      logic [VB-1:0] x;
      logic valid, is_eq;
      x = in_chunk[i*VB +: VB];
      valid = IB'(ch) * IB'(P) + IB'(i) < n_q;
      is_eq = valid && x == thr;
      keep_a[i] = valid && (x > thr || (is_eq && rank < keep_eq));
      rank = rank + IB'(is_eq);
    end
    eq_a = rank;
  end
  // Stage B: the second zero eliminator packs the kept positions of stage A's chunk.
  logic          a_valid, b_valid;
  logic [P-1:0]  a_keep;
  logic [CB-1:0] a_ch;
  logic [P*PB-1:0] a_pos, packed_p, b_pos;
  logic [PC-1:0] cnt_p, b_cnt;
  for (genvar i = 0; i < P; i++) begin : g_pos
    assign a_pos[i*PB +: PB] = PB'(32'(a_ch) * P + i);
  end
  zero_eliminator #(.N(P), .W(PB)) u_ze_p (
      .in_value(a_pos), .in_keep(a_keep), .out_value(packed_p), .out_count(cnt_p));
  // Stage C appends stage B's positions at `kept`.
  wire [LB-1:0] off_p = kept[LB-1:0];
  wire [2*P*PB-1:0] dbl_p = {b_pos, b_pos};
  wire [P*PB-1:0] rot_p = dbl_p[(P - 32'(off_p)) * PB +: P*PB];

  wire trivial = k == '0 || k >= n;

  // ---- Per-slot registers: the four value buffers, the keep mask, the positions.
  for (genvar s = 0; s < N; s++) begin : g_slot
    localparam [IB-1:0] S = IB'(s);
    localparam LANE = s % P;
    logic [VB-1:0] v_in, v1, v2, v3;
    wire in_g = state == S_STREAM && S >= wr_g && S < wr_g + IB'(cnt_g);
    wire in_l = state == S_STREAM && S >= wr_l && S < wr_l + IB'(cnt_l);
    wire [VB-1:0] d_g = rot_g[LANE*VB +: VB], d_l = rot_l[LANE*VB +: VB];
    always_ff @(posedge clk) begin
      if (load_valid && state == S_IDLE && 32'(load_beat) == s / P)
        v_in <= load_value[LANE*VB +: VB];
      if (in_g && g_sel == 2'd1) v1 <= d_g;
      if (in_l && l_sel == 2'd1) v1 <= d_l;
      if (in_g && g_sel == 2'd2) v2 <= d_g;
      if (in_l && l_sel == 2'd2) v2 <= d_l;
      if (in_g && g_sel == 2'd3) v3 <= d_g;
      if (in_l && l_sel == 2'd3) v3 <= d_l;
    end
    assign buf_in[s*VB +: VB] = v_in;
    assign buf_w1[s*VB +: VB] = v1;
    assign buf_w2[s*VB +: VB] = v2;
    assign buf_w3[s*VB +: VB] = v3;

    logic m;
    logic [PB-1:0] pos;
    always_ff @(posedge clk) begin
      if (rst) begin
        m <= 1'b0;
        pos <= '0;
      end else if (state == S_IDLE && start) begin
        // A trivial call keeps nothing (k = 0) or positions 0 .. n-1 (k >= n).
        m <= trivial && k != '0 && S < n;
        pos <= trivial && k != '0 && S < n ? PB'(s) : '0;
      end else begin
        if (a_valid && 32'(a_ch) == s / P) m <= a_keep[LANE];
        if (b_valid && S >= kept && S < kept + IB'(b_cnt)) pos <= rot_p[LANE*PB +: PB];
      end
    end
    assign keep_mask[s] = m;
    assign positions[s*PB +: PB] = pos;
  end

  // ---- The controller.
  wire last_chunk_of_round = (IB'(ch) + 1'b1) * IB'(P) >= len;
  wire last_chunk_of_input = (IB'(ch) + 1'b1) * IB'(P) >= n_q;
  wire [IB-1:0] g_plus_eq = wr_g + n_eq;
  wire [31:0] lfsr_word = lfsr_next_word(lfsr);

  assign busy = state != S_IDLE;
  assign done = state == S_DONE;
  assign round_valid = state == S_PIVOT;
  assign round_size = len;

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= S_IDLE;
      {n_q, target, len, wr_g, wr_l, n_eq, idx_q, eq_seen, kept, keep_eq} <= '0;
      {lfsr, pivot, thr, kth} <= '0;
      ch <= '0;
      {cur_sel, g_sel, l_sel} <= '0;
      {a_valid, b_valid, a_keep, a_ch, b_pos, b_cnt} <= '0;
    end else begin
      // The filter pipeline advances every cycle; stage A is fed only in S_FILTER.
      a_valid <= state == S_FILTER;
      a_keep <= keep_a;
      a_ch <= ch;
      b_valid <= a_valid;
      b_pos <= packed_p;
      b_cnt <= a_valid ? cnt_p : '0;
      if (b_valid) kept <= kept + IB'(b_cnt);
      case (state)
        S_IDLE: if (start) begin
          n_q <= n;
          target <= k;
          len <= n;
          lfsr <= lfsr_state == '0 ? 32'd1 : lfsr_state;
          cur_sel <= 2'd0;
          g_sel <= 2'd1;
          l_sel <= 2'd2;
          kth <= '0;
          keep_eq <= '0;
          kept <= trivial && k != '0 ? n : '0;
          state <= trivial ? S_DONE : S_PIVOT;
        end
        S_PIVOT: begin
          lfsr <= lfsr_word;
          idx_q <= PB'(mod_count(lfsr_word, len));
          state <= S_FETCH;
        end
        S_FETCH: begin
          pivot <= cur_buf[idx_q*VB +: VB];
          ch <= '0;
          wr_g <= '0;
          wr_l <= '0;
          n_eq <= '0;
          state <= S_STREAM;
        end
        S_STREAM: begin
          wr_g <= wr_g + IB'(cnt_g);
          wr_l <= wr_l + IB'(cnt_l);
          n_eq <= n_eq + IB'(cnt_eq);
          ch <= ch + 1'b1;
          if (last_chunk_of_round) state <= S_DECIDE;
        end
        S_DECIDE: begin
          if (wr_g > target) begin
            // Continue in G; the other two buffers take the next G and L.
            cur_sel <= g_sel;
            len <= wr_g;
            g_sel <= g_sel == 2'd1 ? 2'd2 : 2'd1;
            l_sel <= g_sel == 2'd3 ? 2'd2 : 2'd3;
            state <= S_PIVOT;
          end else if (g_plus_eq >= target) begin
            thr <= pivot;
            kth <= pivot;
            keep_eq <= target - wr_g;
            eq_seen <= '0;
            ch <= '0;
            state <= S_FILTER;
          end else begin
            target <= target - g_plus_eq;
            cur_sel <= l_sel;
            len <= wr_l;
            g_sel <= l_sel == 2'd1 ? 2'd2 : 2'd1;
            l_sel <= l_sel == 2'd3 ? 2'd2 : 2'd3;
            state <= S_PIVOT;
          end
        end
        S_FILTER: begin
          eq_seen <= eq_a;
          ch <= ch + 1'b1;
          if (last_chunk_of_input) state <= S_DRAIN1;
        end
        S_DRAIN1: state <= S_DRAIN2;
        S_DRAIN2: state <= S_DONE;
        S_DONE: state <= S_IDLE;
        default: state <= S_IDLE;
      endcase
    end
  end
endmodule
