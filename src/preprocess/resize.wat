;; The `triangle` resize's arithmetic (src/preprocess/index.ts: block means, then the horizontal and
;; vertical tent passes, then rounding) in WebAssembly with 128-bit SIMD. Every value is computed
;; with the same IEEE operations in the same order as the JavaScript (integer sums, one f64
;; division per block mean, products added tap by tap, floor(x + 0.5)), so the bytes are identical;
;; test/web/resize-wasm.test.ts compares the two. src/preprocess/resize-wasm.ts lays the buffers out and
;; calls `resample` once per image. Built into resize-wasm-bytes.ts by `npm run build:wasm`.
;;
;; Buffers (byte offsets into this memory, each followed by at least 64 bytes of padding: the SIMD
;; loops read and write up to one vector past their ends):
;;   src    the source rows [yBase, yEnd) of the columns the output reads, RGB bytes, `stride` per row
;;   hFirst, hCount (i32 × outW), hW (f64 × outW × hTaps): the horizontal weights, likewise vertical
;;   sums   i32 per source byte of one block row;  sub  f64 per block value of one block row
;;   mid    f64, (rHi − rLo) rows of outW × 3;  out  outH × outW × 3 bytes
(module
  (memory (export "memory") 1)

  ;; sums[i] = Σ over `rows` source rows of the byte at column byte i (i < span), exact in i32.
  (func $sumRows (param $row i32) (param $stride i32) (param $rows i32) (param $span i32) (param $sums i32)
    (local $p i32) (local $q i32) (local $end i32) (local $y i32) (local $v v128) (local $lo v128) (local $hi v128)
    (local.set $end (i32.add (local.get $sums) (i32.shl (local.get $span) (i32.const 2))))
    (local.set $p (local.get $row))
    (local.set $q (local.get $sums))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $q) (local.get $end)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
        (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
        (v128.store (local.get $q) (i32x4.extend_low_i16x8_u (local.get $lo)))
        (v128.store offset=16 (local.get $q) (i32x4.extend_high_i16x8_u (local.get $lo)))
        (v128.store offset=32 (local.get $q) (i32x4.extend_low_i16x8_u (local.get $hi)))
        (v128.store offset=48 (local.get $q) (i32x4.extend_high_i16x8_u (local.get $hi)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 64)))
        (br $next)))
    (local.set $y (i32.const 1))
    (block $rowsDone
      (loop $nextRow
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $p (i32.add (local.get $row) (i32.mul (local.get $y) (local.get $stride))))
        (local.set $q (local.get $sums))
        (block $done2
          (loop $next2
            (br_if $done2 (i32.ge_u (local.get $q) (local.get $end)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
            (v128.store (local.get $q) (i32x4.add (v128.load (local.get $q)) (i32x4.extend_low_i16x8_u (local.get $lo))))
            (v128.store offset=16 (local.get $q) (i32x4.add (v128.load offset=16 (local.get $q)) (i32x4.extend_high_i16x8_u (local.get $lo))))
            (v128.store offset=32 (local.get $q) (i32x4.add (v128.load offset=32 (local.get $q)) (i32x4.extend_low_i16x8_u (local.get $hi))))
            (v128.store offset=48 (local.get $q) (i32x4.add (v128.load offset=48 (local.get $q)) (i32x4.extend_high_i16x8_u (local.get $hi))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 64)))
            (br $next2)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $nextRow))))

  ;; Block means of one block row: for blocks bx in [cLo, cHi), the sums of its columns (clipped at
  ;; the image's width) divided, as f64, by columns × rows. A column's (r, g, b) is summed as one
  ;; i32x4 (the fourth lane, the next column's red, is ignored); red and green divide as one f64x2.
  (func $blockMeans (param $sums i32) (param $kx i32) (param $cLo i32) (param $cHi i32) (param $width i32) (param $rows i32) (param $sub i32)
    (local $bx i32) (local $cols i32) (local $c i32) (local $acc v128) (local $n f64) (local $s i32) (local $t i32) (local $x1 i32)
    (local.set $s (local.get $sums))
    (local.set $t (local.get $sub))
    (local.set $bx (local.get $cLo))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $bx) (local.get $cHi)))
        (local.set $x1 (i32.mul (i32.add (local.get $bx) (i32.const 1)) (local.get $kx)))
        (if (i32.gt_s (local.get $x1) (local.get $width)) (then (local.set $x1 (local.get $width))))
        ;; cols >= 1: a block the plan reads starts inside the image.
        (local.set $cols (i32.sub (local.get $x1) (i32.mul (local.get $bx) (local.get $kx))))
        (local.set $acc (v128.load (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 12)))
        (local.set $c (i32.const 1))
        (block $colsDone
          (loop $nextCol
            (br_if $colsDone (i32.ge_s (local.get $c) (local.get $cols)))
            (local.set $acc (i32x4.add (local.get $acc) (v128.load (local.get $s))))
            (local.set $s (i32.add (local.get $s) (i32.const 12)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $nextCol)))
        (local.set $n (f64.convert_i32_s (i32.mul (local.get $cols) (local.get $rows))))
        (v128.store (local.get $t) (f64x2.div (f64x2.convert_low_i32x4_s (local.get $acc)) (f64x2.splat (local.get $n))))
        (f64.store offset=16 (local.get $t) (f64.div (f64.convert_i32_s (i32x4.extract_lane 2 (local.get $acc))) (local.get $n)))
        (local.set $t (i32.add (local.get $t) (i32.const 24)))
        (local.set $bx (i32.add (local.get $bx) (i32.const 1)))
        (br $next))))

  ;; Horizontal pass of one block row: output pixel i = Σ_t sub[hFirst[i] − cLo + t] · hW[i][t],
  ;; added from tap 0 on (red and green in one f64x2, blue beside it).
  (func $hpass (param $sub i32) (param $cLo i32) (param $outW i32) (param $hFirst i32) (param $hCount i32) (param $hW i32) (param $hTaps i32) (param $dst i32)
    (local $i i32) (local $s i32) (local $wi i32) (local $wend i32) (local $w f64) (local $rg v128) (local $b f64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $outW)))
        (local.set $s (i32.add (local.get $sub)
          (i32.mul (i32.sub (i32.load (i32.add (local.get $hFirst) (i32.shl (local.get $i) (i32.const 2)))) (local.get $cLo)) (i32.const 24))))
        (local.set $wi (i32.add (local.get $hW) (i32.shl (i32.mul (local.get $i) (local.get $hTaps)) (i32.const 3))))
        (local.set $wend (i32.add (local.get $wi)
          (i32.shl (i32.load (i32.add (local.get $hCount) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 3))))
        (local.set $rg (v128.const f64x2 0 0))
        (local.set $b (f64.const 0))
        (block $tapsDone
          (loop $nextTap
            (br_if $tapsDone (i32.ge_u (local.get $wi) (local.get $wend)))
            (local.set $w (f64.load (local.get $wi)))
            (local.set $rg (f64x2.add (local.get $rg) (f64x2.mul (v128.load (local.get $s)) (f64x2.splat (local.get $w)))))
            (local.set $b (f64.add (local.get $b) (f64.mul (f64.load offset=16 (local.get $s)) (local.get $w))))
            (local.set $wi (i32.add (local.get $wi) (i32.const 8)))
            (local.set $s (i32.add (local.get $s) (i32.const 24)))
            (br $nextTap)))
        (v128.store (local.get $dst) (local.get $rg))
        (f64.store offset=16 (local.get $dst) (local.get $b))
        (local.set $dst (i32.add (local.get $dst) (i32.const 24)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Vertical pass and rounding: output row j = Σ_t mid[vFirst[j] − rLo + t] · vW[j][t] (0 + first
  ;; product, then tap by tap), two values at a time kept in a register across the taps, then
  ;; floor(x + 0.5) clamped to 0..255. A row of odd length computes one value past its end, which
  ;; lands on the next row's first byte (rewritten when that row is done) or in the padding.
  (func $vpass (param $mid i32) (param $rLo i32) (param $line i32) (param $outH i32) (param $vFirst i32) (param $vCount i32) (param $vW i32) (param $vTaps i32) (param $out i32)
    (local $j i32) (local $t i32) (local $k i32) (local $base i32) (local $w i32) (local $x i32) (local $p i32)
    (local $rowBytes i32) (local $a v128) (local $v v128) (local $o i32)
    (local.set $rowBytes (i32.shl (local.get $line) (i32.const 3)))
    (local.set $o (local.get $out))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $j) (local.get $outH)))
        (local.set $k (i32.load (i32.add (local.get $vCount) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $base (i32.add (local.get $mid)
          (i32.mul (i32.sub (i32.load (i32.add (local.get $vFirst) (i32.shl (local.get $j) (i32.const 2)))) (local.get $rLo)) (local.get $rowBytes))))
        (local.set $w (i32.add (local.get $vW) (i32.shl (i32.mul (local.get $j) (local.get $vTaps)) (i32.const 3))))
        (local.set $x (i32.const 0))
        (block $rowDone
          (loop $pair
            (br_if $rowDone (i32.ge_s (local.get $x) (local.get $line)))
            (local.set $p (i32.add (local.get $base) (i32.shl (local.get $x) (i32.const 3))))
            (local.set $a (f64x2.add (v128.const f64x2 0 0) (f64x2.mul (v128.load (local.get $p)) (f64x2.splat (f64.load (local.get $w))))))
            (local.set $t (i32.const 1))
            (block $tapsDone
              (loop $tap
                (br_if $tapsDone (i32.ge_s (local.get $t) (local.get $k)))
                (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
                (local.set $a (f64x2.add (local.get $a)
                  (f64x2.mul (v128.load (local.get $p)) (f64x2.splat (f64.load (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 3))))))))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $tap)))
            ;; floor(x + 0.5), then 0..255 (pmax/pmin pick the bound when x is beyond it).
            (local.set $v
              (i32x4.trunc_sat_f64x2_s_zero
                (f64x2.pmin (f64x2.splat (f64.const 255))
                  (f64x2.pmax (v128.const f64x2 0 0) (f64x2.floor (f64x2.add (local.get $a) (f64x2.splat (f64.const 0.5))))))))
            (i32.store8 (local.get $o) (i32x4.extract_lane 0 (local.get $v)))
            (i32.store8 offset=1 (local.get $o) (i32x4.extract_lane 1 (local.get $v)))
            (local.set $o (i32.add (local.get $o) (i32.const 2)))
            (local.set $x (i32.add (local.get $x) (i32.const 2)))
            (br $pair)))
        ;; An odd line wrote one byte too many: step back so the next row starts where it should.
        (local.set $o (i32.sub (local.get $o) (i32.sub (local.get $x) (local.get $line))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $next))))

  ;; One resize: for each block row by in [rLo, rHi) (source rows by·ky … by·ky + ky − 1, clipped at
  ;; `height`), block means then the horizontal pass into mid; then the vertical pass into out.
  (func (export "resample")
    (param $src i32) (param $stride i32) (param $span i32) (param $width i32) (param $height i32) (param $yBase i32)
    (param $kx i32) (param $ky i32) (param $cLo i32) (param $cHi i32) (param $rLo i32) (param $rHi i32)
    (param $outW i32) (param $outH i32)
    (param $hFirst i32) (param $hCount i32) (param $hW i32) (param $hTaps i32)
    (param $vFirst i32) (param $vCount i32) (param $vW i32) (param $vTaps i32)
    (param $sums i32) (param $sub i32) (param $mid i32) (param $out i32)
    (local $by i32) (local $y0 i32) (local $y1 i32) (local $dst i32) (local $line i32)
    (local.set $line (i32.mul (local.get $outW) (i32.const 3)))
    (local.set $dst (local.get $mid))
    (local.set $by (local.get $rLo))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $by) (local.get $rHi)))
        (local.set $y0 (i32.mul (local.get $by) (local.get $ky)))
        (local.set $y1 (i32.add (local.get $y0) (local.get $ky)))
        (if (i32.gt_s (local.get $y1) (local.get $height)) (then (local.set $y1 (local.get $height))))
        (call $sumRows
          (i32.add (local.get $src) (i32.mul (i32.sub (local.get $y0) (local.get $yBase)) (local.get $stride)))
          (local.get $stride) (i32.sub (local.get $y1) (local.get $y0)) (local.get $span) (local.get $sums))
        (call $blockMeans (local.get $sums) (local.get $kx) (local.get $cLo) (local.get $cHi) (local.get $width)
          (i32.sub (local.get $y1) (local.get $y0)) (local.get $sub))
        (call $hpass (local.get $sub) (local.get $cLo) (local.get $outW) (local.get $hFirst) (local.get $hCount) (local.get $hW) (local.get $hTaps) (local.get $dst))
        (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $line) (i32.const 3))))
        (local.set $by (i32.add (local.get $by) (i32.const 1)))
        (br $next)))
    (call $vpass (local.get $mid) (local.get $rLo) (local.get $line) (local.get $outH) (local.get $vFirst) (local.get $vCount) (local.get $vW) (local.get $vTaps) (local.get $out))))
