;; Cache decoding with 128-bit SIMD (codec.ts copies bytes in and floats out, a chunk at a time).
;; Built into decode-wasm.ts by `npm run build:wasm` (scripts/build-wasm.ts); a test checks that the
;; two agree. Each function reads `n` values at `in` and writes `n` float32 at `out`, rounding `n`
;; up to its step (8 or 4 values): the caller leaves room for that padding and ignores what lands there.
(module
  (memory (export "memory") 2)

  ;; binary16 -> binary32, exact for every bit pattern, eight values per step.
  ;; A float32 is built as two 16-bit halves, so most of the work runs on eight lanes at once.
  ;; For a normal half (exponent E in 1..30, mantissa m, sign s) the float has exponent E + 112 and
  ;; mantissa m << 13, so its high 16 bits are s | ((h & 0x7fff) >> 3) + (112 << 7) and its low 16
  ;; bits are h << 13 (the 16-bit shift keeps only m's three low bits). E = 31 (inf, NaN) needs
  ;; another 112 << 7 to reach exponent 255, the mantissa kept. ±0 keeps only its sign. Subnormal
  ;; halves (E = 0, m > 0) are m·2^-24: a vector holding any is patched with convert(m) · 2^-24,
  ;; which is exact (m < 2^10) and never touches a subnormal float.
  (func (export "float16") (param $in i32) (param $out i32) (param $n i32)
    (local $end i32) (local $h v128) (local $abs v128) (local $exp v128) (local $hi v128) (local $lo v128)
    (local $sub v128) (local $k7fff v128) (local $k7c00 v128) (local $k3800 v128) (local $k8000 v128) (local $zero v128)
    (local.set $k7fff (i16x8.splat (i32.const 0x7fff)))
    (local.set $k7c00 (i16x8.splat (i32.const 0x7c00)))
    (local.set $k3800 (i16x8.splat (i32.const 0x3800)))
    (local.set $k8000 (i16x8.splat (i32.const 0x8000)))
    (local.set $zero (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.add (local.get $in) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $h (v128.load (local.get $in)))
        (local.set $abs (v128.and (local.get $h) (local.get $k7fff)))
        (local.set $exp (v128.and (local.get $h) (local.get $k7c00)))
        (local.set $hi
          (v128.or
            (v128.andnot
              (i16x8.add
                (i16x8.add (i16x8.shr_u (local.get $abs) (i32.const 3)) (local.get $k3800))
                (v128.and (i16x8.eq (local.get $exp) (local.get $k7c00)) (local.get $k3800)))
              (i16x8.eq (local.get $abs) (local.get $zero)))
            (v128.and (local.get $h) (local.get $k8000))))
        (local.set $lo (i16x8.shl (local.get $h) (i32.const 13)))
        (v128.store (local.get $out)
          (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $lo) (local.get $hi)))
        (v128.store offset=16 (local.get $out)
          (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $lo) (local.get $hi)))
        (local.set $sub
          (v128.andnot (i16x8.eq (local.get $exp) (local.get $zero)) (i16x8.eq (local.get $abs) (local.get $zero))))
        (if (v128.any_true (local.get $sub))
          (then
            (v128.store (local.get $out)
              (v128.bitselect
                (v128.or
                  (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $abs))) (f32x4.splat (f32.const 0x1p-24)))
                  (i32x4.shl (i32x4.extend_low_i16x8_u (v128.and (local.get $h) (local.get $k8000))) (i32.const 16)))
                (v128.load (local.get $out))
                (i32x4.extend_low_i16x8_s (local.get $sub))))
            (v128.store offset=16 (local.get $out)
              (v128.bitselect
                (v128.or
                  (f32x4.mul (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $abs))) (f32x4.splat (f32.const 0x1p-24)))
                  (i32x4.shl (i32x4.extend_high_i16x8_u (v128.and (local.get $h) (local.get $k8000))) (i32.const 16)))
                (v128.load offset=16 (local.get $out))
                (i32x4.extend_high_i16x8_s (local.get $sub))))))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (br $next))))

  ;; uint8 -> float32 as (q - zeroPoint) * scale in float64, rounded once to float32, four values per
  ;; step: the same operations, in the same precision, as JavaScript's `(q - zeroPoint) * scale`
  ;; stored into a Float32Array, so the result is bit-identical to the scalar decoder's table.
  ;; zeroPoint is an integer (the header requires it), so q - zeroPoint is exact in int32.
  (func (export "uint8") (param $in i32) (param $out i32) (param $n i32) (param $zeroPoint i32) (param $scale f64)
    (local $end i32) (local $q v128) (local $zp v128) (local $s v128)
    (local.set $zp (i32x4.splat (local.get $zeroPoint)))
    (local.set $s (f64x2.splat (local.get $scale)))
    (local.set $end (i32.add (local.get $in) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $q
          (i32x4.sub (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $in)))) (local.get $zp)))
        (v128.store (local.get $out)
          ;; lanes 0-1 and 2-3 each go through float64 and come back as the low half of a float32x4
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (local.get $s)))
            (f32x4.demote_f64x2_zero
              (f64x2.mul
                (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q)))
                (local.get $s)))))
        (local.set $in (i32.add (local.get $in) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next))))
)
