// Fixed-point softmax of one row (SPEC.md 4), one element a cycle per phase:
//   LOAD  the row's scores stream in (in_valid/in_last) into the row buffer; running max m.
//   EXP   per element t = min(scale_mul(m - score, 16), 25 x 2^16) (Q.16 base-2 exponent),
//         E = exp2_neg(t) (two 256 x 25-bit ROMs, one 25 x 25 multiplier, rounding shifts),
//         written back over its score and summed: S = sum E (Q.24). exp_valid per element.
//   DIV   R = floor(4095 x 2^40 / S), restoring division, one quotient bit a cycle
//         (52 cycles); stats_valid with S and R.
//   PROB  per element p = min(4095, rshift_round(E x R, 40)); prob_valid, prob_last.
// The multiplier register M = ScaleReg(unit x log2 e) (mult_mantissa, mult_shift) is held
// for the row. The ROM contents are the spec's tables (rtl/rom, equal to the golden
// vectors' softmax/exp_*_rom.hex; the testbench checks that). FIFO_DEPTH is the arch's
// softmax fifo_depth; a longer row sets the sticky `overflow` and is cut at FIFO_DEPTH.
module softmax #(
    parameter FIFO_DEPTH = 128,
    parameter SCORE_BITS = 32,
    parameter SUM_BITS = 48,
    parameter OUTPUT_BITS = 12,
    parameter HI_ROM = "rtl/rom/exp_hi.hex",
    parameter LO_ROM = "rtl/rom/exp_lo.hex"
) (
    input  logic                         clk,
    input  logic                         rst,
    input  logic                         in_valid,
    input  logic                         in_last,
    input  logic signed [SCORE_BITS-1:0] in_score,
    output logic                         in_ready,
    input  logic [23:0]                  mult_mantissa,
    input  logic signed [15:0]           mult_shift,
    output logic                         exp_valid,
    output logic [24:0]                  exp_value,
    output logic                         stats_valid,
    output logic [SUM_BITS-1:0]          sum,
    output logic [27:0]                  recip,
    output logic                         prob_valid,
    output logic                         prob_last,
    output logic [OUTPUT_BITS-1:0]         prob,
    output logic                         overflow
);
  localparam T_FRAC = 16;
  localparam T_BITS = 21;                      // holds T_CAP
  localparam [T_BITS-1:0] T_CAP = 21'd25 << T_FRAC;
  localparam E_BITS = 25;                      // Q1.24, E(0) = 2^24
  localparam RECIP_FRAC = 40;
  localparam NUM_BITS = 52;                    // 4095 x 2^40 < 2^52
  localparam [NUM_BITS-1:0] NUM = 52'd4095 << RECIP_FRAC;
  localparam [OUTPUT_BITS-1:0] PROB_ONE = 12'd4095;
  localparam IB = $clog2(FIFO_DEPTH + 1);        // an element count 0..FIFO_DEPTH

  localparam S_LOAD = 2'd0, S_EXP = 2'd1, S_DIV = 2'd2, S_PROB = 2'd3;
  logic [1:0] state;

  logic [E_BITS-1:0] hi_rom [256];
  logic [E_BITS-1:0] lo_rom [256];
  initial begin
    $readmemh(HI_ROM, hi_rom);
    $readmemh(LO_ROM, lo_rom);
  end

  // The row buffer: scores, overwritten by their exps in EXP.
  logic [SCORE_BITS-1:0] row [FIFO_DEPTH];
  logic [IB-1:0] cnt, len, j;
  logic signed [SCORE_BITS-1:0] max_score;
  wire [SCORE_BITS-1:0] rd = row[j[$clog2(FIFO_DEPTH)-1:0]];

  // EXP: t and exp2_neg(t) of element j.
  wire [SCORE_BITS-1:0] diff = SCORE_BITS'(max_score - $signed(rd));  // >= 0, < 2^32
  logic [T_BITS-1:0] t_raw;
  scale_mul #(.X_BITS(SCORE_BITS), .FRAC_BITS(T_FRAC), .OUT_BITS(T_BITS)) u_t (
      .x(diff), .mantissa(mult_mantissa), .shift(mult_shift), .y(t_raw));
  wire [T_BITS-1:0] t = t_raw > T_CAP ? T_CAP : t_raw;
  wire [4:0] n = t[T_FRAC +: 5];
  wire [2*E_BITS-1:0] rom_prod = (2*E_BITS)'(hi_rom[t[15:8]]) * (2*E_BITS)'(lo_rom[t[7:0]]);
  wire [E_BITS-1:0] mant = E_BITS'(rom_prod >> 24) + E_BITS'(rom_prod[23]);
  wire [E_BITS-1:0] mant_floor = mant >> n;
  wire [E_BITS-1:0] mant_half = (mant >> (n - 5'd1)) & E_BITS'(1);
  wire [E_BITS-1:0] e = n > 5'd24 ? '0 : n == 5'd0 ? mant : mant_floor + mant_half;

  // DIV: restoring division state.
  logic [SUM_BITS-1:0] rem;     // < S
  logic [26:0] quo;             // quotient bits so far; with the last one, the low 28 bits

  logic [5:0] bit_i;
  wire [SUM_BITS:0] rem_shift = {rem, NUM[bit_i]};
  wire take = rem_shift >= (SUM_BITS+1)'(sum);

  // PROB: element j's probability.
  wire [E_BITS+27:0] pr = (E_BITS+28)'(rd[E_BITS-1:0]) * (E_BITS+28)'(recip);
  wire [E_BITS+27:0] p_round = (pr >> RECIP_FRAC) + (E_BITS+28)'(pr[RECIP_FRAC-1]);
  wire [OUTPUT_BITS-1:0] p = p_round > (E_BITS+28)'(PROB_ONE) ? PROB_ONE : OUTPUT_BITS'(p_round);

  assign in_ready = state == S_LOAD;
  wire row_we = (state == S_LOAD && in_valid) || state == S_EXP;
  wire [$clog2(FIFO_DEPTH)-1:0] row_wa = state == S_LOAD ? cnt[$clog2(FIFO_DEPTH)-1:0]
                                                       : j[$clog2(FIFO_DEPTH)-1:0];
  wire [SCORE_BITS-1:0] row_wd = state == S_LOAD ? SCORE_BITS'(in_score) : SCORE_BITS'(e);
  always_ff @(posedge clk) if (row_we) row[row_wa] <= row_wd;

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= S_LOAD;
      cnt <= '0;
      len <= '0;
      j <= '0;
      max_score <= '0;
      sum <= '0;
      recip <= '0;
      rem <= '0;
      quo <= '0;
      bit_i <= '0;
      exp_valid <= 1'b0;
      exp_value <= '0;
      stats_valid <= 1'b0;
      prob_valid <= 1'b0;
      prob_last <= 1'b0;
      prob <= '0;
      overflow <= 1'b0;
    end else begin
      exp_valid <= 1'b0;
      stats_valid <= 1'b0;
      prob_valid <= 1'b0;
      prob_last <= 1'b0;
      case (state)
        S_LOAD: if (in_valid) begin
          if (cnt == '0 || in_score > max_score) max_score <= in_score;
          if (in_last || cnt == IB'(FIFO_DEPTH - 1)) begin
            if (!in_last) overflow <= 1'b1;
            len <= cnt + 1'b1;
            cnt <= '0;
            j <= '0;
            sum <= '0;
            state <= S_EXP;
          end else begin
            cnt <= cnt + 1'b1;
          end
        end
        S_EXP: begin
          exp_valid <= 1'b1;
          exp_value <= e;
          sum <= sum + SUM_BITS'(e);
          if (j == len - 1'b1) begin
            rem <= '0;
            quo <= '0;
            bit_i <= 6'(NUM_BITS - 1);
            state <= S_DIV;
          end else begin
            j <= j + 1'b1;
          end
        end
        S_DIV: begin
          rem <= SUM_BITS'(take ? rem_shift - (SUM_BITS+1)'(sum) : rem_shift);
          quo <= {quo[25:0], take};
          if (bit_i == '0) begin
            // S >= 2^24 (the row's max contributes E = 2^24), so the quotient fits 28 bits.
            recip <= {quo, take};
            stats_valid <= 1'b1;
            j <= '0;
            state <= S_PROB;
          end else begin
            bit_i <= bit_i - 1'b1;
          end
        end
        S_PROB: begin
          prob_valid <= 1'b1;
          prob <= p;
          prob_last <= j == len - 1'b1;
          if (j == len - 1'b1) state <= S_LOAD;
          else j <= j + 1'b1;
        end
      endcase
    end
  end
endmodule
