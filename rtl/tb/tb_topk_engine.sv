// Drives topk_engine with topk/*.hex: per vector the 64 values are loaded, the call runs
// with its k and LFSR state, and every round's size, the keep mask, the packed positions,
// the k-th value, keep_eq and the round count are checked; then the cycle cross-check: the
// cycles from start to done against +cycles=FILE, the cycle simulator's cost of the same
// call (`spatten golden --topk-cycles DIR`, hw/topk.rs's topk_call_cycles).
`include "tb_common.svh"
module tb_topk_engine #(
    // The arch's topk_value: run-tests.sh passes its comparators and fifo_depth.
    parameter COMPARATORS = 16,
    parameter FIFO_DEPTH = 64
);
  localparam P = COMPARATORS, N = FIFO_DEPTH, ROW = 64, V = `TB_MAX_VECTORS;
  localparam IB = $clog2(N + 1), PB = $clog2(N);
  logic [31:0] values_m [V*ROW], lfsr_m [V], kth_m [V], cycles_m [V];
  logic [7:0]  k_m [V], keep_eq_m [V], round_count_m [V], positions_m [V*ROW], rounds_m [V*ROW];
  logic [0:0]  mask_m [V*ROW];

  logic clk = 0, rst = 1, load_valid = 0, start = 0;
  logic [$clog2(N/P+1)-1:0] load_beat = '0;
  logic [P*32-1:0] load_value = '0;
  logic [IB-1:0] n = '0, k = '0;
  logic [31:0] lfsr_state = '0;
  logic busy, done, round_valid;
  logic [IB-1:0] round_size, kept, keep_eq;
  logic [N-1:0] keep_mask;
  logic [N*PB-1:0] positions;
  logic [31:0] kth;
  topk_engine #(.FIFO_DEPTH(N), .COMPARATORS(P), .VALUE_BITS(32)) dut (.*);
  always #5 clk = ~clk;

  initial begin
    string dir, cycles_file;
    int vectors;
    if (ROW > N) $fatal(1, "topk: FIFO_DEPTH %0d < the vectors' %0d values", N, ROW);
    `TB_ARGS(dir, vectors)
    if (!$value$plusargs("cycles=%s", cycles_file)) $fatal(1, "missing +cycles=FILE");
    `TB_LOAD(dir, "topk/values.hex", values_m)
    `TB_LOAD(dir, "topk/k.hex", k_m)
    `TB_LOAD(dir, "topk/lfsr_state.hex", lfsr_m)
    `TB_LOAD(dir, "topk/keep_mask.hex", mask_m)
    `TB_LOAD(dir, "topk/positions.hex", positions_m)
    `TB_LOAD(dir, "topk/kth.hex", kth_m)
    `TB_LOAD(dir, "topk/keep_eq.hex", keep_eq_m)
    `TB_LOAD(dir, "topk/rounds.hex", rounds_m)
    `TB_LOAD(dir, "topk/round_count.hex", round_count_m)
    `TB_LOAD_PATH(cycles_file, cycles_m)
    repeat (2) @(negedge clk);
    rst = 0;
    for (int v = 0; v < vectors; v++) begin
      int cycles, rounds;
      for (int b = 0; b < ROW / P; b++) begin
        logic [P*32-1:0] beat;
        for (int i = 0; i < P; i++) beat[i*32 +: 32] = values_m[v*ROW + b*P + i];
        load_valid = 1;
        load_beat = b[$clog2(N/P+1)-1:0];
        load_value = beat;
        @(negedge clk);
      end
      load_valid = 0;
      n = IB'(ROW);
      k = IB'(k_m[v]);
      lfsr_state = lfsr_m[v];
      start = 1;
      @(negedge clk);
      start = 0;
      // Cycle 1 is the one after the rising edge that took `start`; `done` marks the last.
      cycles = 0;
      rounds = 0;
      forever begin
        cycles++;
        if (!busy) $fatal(1, "topk: vector %0d: busy low in cycle %0d of the call", v, cycles);
        if (round_valid) begin
          `TB_CHECK("topk", v, $sformatf("rounds[%0d]", rounds), rounds_m[v*ROW + rounds],
                    8'(round_size))
          rounds++;
        end
        if (done) break;
        if (cycles > 100000) $fatal(1, "topk: vector %0d: no done after %0d cycles", v, cycles);
        @(negedge clk);
      end
      `TB_CHECK("topk", v, "round_count", round_count_m[v], 8'(rounds))
      for (int i = 0; i < ROW; i++) begin
        `TB_CHECK("topk", v, $sformatf("keep_mask[%0d]", i), mask_m[v*ROW + i][0], keep_mask[i])
        `TB_CHECK("topk", v, $sformatf("positions[%0d]", i), positions_m[v*ROW + i],
                  8'(positions[i*PB +: PB]))
      end
      `TB_CHECK("topk", v, "kept (= k)", IB'(k_m[v]), kept)
      `TB_CHECK("topk", v, "kth", kth_m[v], kth)
      `TB_CHECK("topk", v, "keep_eq", keep_eq_m[v], 8'(keep_eq))
      `TB_CHECK("topk", v, "cycles (RTL vs cycle simulator)", cycles_m[v], 32'(cycles))
      $display("topk vector %0d: k=%0d rounds=%0d cycles=%0d", v, k_m[v], rounds, cycles);
      @(negedge clk);
    end
    $display("PASS topk_engine: %0d vectors, cycles equal the cycle simulator's", vectors);
    $finish;
  end
endmodule
