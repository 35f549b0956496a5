// Scale register multiply (SPEC.md 1): y = min(rshift_round(x * mantissa, shift - FRAC_BITS),
// 2^OUT_BITS - 1), a left shift when shift < FRAC_BITS, saturating. The reference computes
// in 128 bits and saturates at 2^64 - 1; every user here clamps to OUT_BITS <= 63 bits
// afterwards, so saturating at the output width gives the same bits. Combinational.
module scale_mul #(
    parameter X_BITS = 32,
    parameter FRAC_BITS = 16,
    parameter OUT_BITS = 48
) (
    input  logic [X_BITS-1:0]   x,
    input  logic [23:0]         mantissa,
    input  logic signed [15:0]  shift,
    output logic [OUT_BITS-1:0] y
);
  localparam PW = X_BITS + 24;                     // the exact product
  localparam [OUT_BITS-1:0] MAX = {OUT_BITS{1'b1}};
  wire [PW-1:0] prod = PW'(x) * PW'(mantissa);
  wire signed [17:0] s = 18'(shift) - 18'(FRAC_BITS);
  wire [17:0] rs = 18'(s);                         // right shift amount when s > 0
  wire [17:0] ls = 18'(-s);                        // left shift amount when s < 0
  wire [PW-1:0] floor_part = prod >> rs;
  wire [PW-1:0] half_bit = (prod >> (rs - 18'd1)) & PW'(1);

  logic [PW:0] r;            // right-shift result (the rounding bit can carry one place)
  logic [PW+OUT_BITS-1:0] l; // left-shift result
  logic over;                // the left shift leaves OUT_BITS
  always_comb begin
    r = '0;
    l = '0;
    over = 1'b0;
    if (s > 0) begin
      if (rs <= 18'(PW)) r = (PW+1)'(floor_part) + (PW+1)'(half_bit);
      y = r > (PW+1)'(MAX) ? MAX : OUT_BITS'(r);
    end else if (s == 0) begin
      y = prod > PW'(MAX) ? MAX : OUT_BITS'(prod);
    end else begin
      if (ls >= 18'(OUT_BITS)) begin
        over = prod != '0;
      end else begin
        l = (PW+OUT_BITS)'(prod) << ls;
        over = (l >> OUT_BITS) != '0;
      end
      y = over ? MAX : OUT_BITS'(l);
    end
  end
endmodule
