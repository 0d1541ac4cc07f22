package gpu

import (
	"slices"
	"sync"
)

// The built-in kernels' WGSL. Each binds, in order: its input buffers, its
// output, then any resident buffer and its uniform params; each walks its
// elements with a grid stride (p.stride = workgroups × workgroup size), so
// any length fits in at most 65535 workgroups.

// saxpyWGSL computes out = a·x + y on vec4s: xy holds x (n4 vec4s, zero
// padded) then y (the same).
const saxpyWGSL = `
struct Params { a: f32, n4: u32, stride: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> xy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    var i = gid.x;
    loop {
        if (i >= p.n4) { break; }
        out[i] = p.a * xy[i] + xy[p.n4 + i];
        i = i + p.stride;
    }
}
`

// matmulWGSL computes C = A·B (row-major f32): a workgroup of 16×16
// invocations makes a 64×64 tile of C, each invocation a 4×4 block, from
// 64×16 tiles of A and 16×64 tiles of B staged in workgroup memory as vec4s.
const matmulWGSL = `
struct Dims { m: u32, n: u32, k: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> d: Dims;

const TS = 64u;
const BK = 16u;
// as_[kk*16 + r/4][r%4] = A[row0 + r][t + kk]; bs[kk*16 + c/4][c%4] = B[t + kk][col0 + c]
var<workgroup> as_: array<vec4<f32>, 256>;
var<workgroup> bs: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * TS;
    let col0 = wid.x * TS;
    let tid = lid.y * 16u + lid.x;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var t = 0u; t < d.k; t = t + BK) {
        for (var i = 0u; i < 4u; i = i + 1u) {
            let e = tid + i * 256u;
            // A: 64 rows of 16, read along k.
            let r = e / BK;
            let kk = e % BK;
            var v = 0.0;
            if (row0 + r < d.m && t + kk < d.k) { v = a[(row0 + r) * d.k + t + kk]; }
            as_[kk * 16u + r / 4u][r % 4u] = v;
            // B: 16 rows of 64, read along n.
            let kb = e / TS;
            let cb = e % TS;
            var w = 0.0;
            if (t + kb < d.k && col0 + cb < d.n) { w = b[(t + kb) * d.n + col0 + cb]; }
            bs[kb * 16u + cb / 4u][cb % 4u] = w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let av = as_[kk * 16u + lid.y];
            let bv = bs[kk * 16u + lid.x];
            acc0 = acc0 + av.x * bv;
            acc1 = acc1 + av.y * bv;
            acc2 = acc2 + av.z * bv;
            acc3 = acc3 + av.w * bv;
        }
        workgroupBarrier();
    }
    let r0 = row0 + lid.y * 4u;
    let c0 = col0 + lid.x * 4u;
    var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let row = r0 + i;
        if (row >= d.m) { break; }
        for (var j = 0u; j < 4u; j = j + 1u) {
            if (c0 + j < d.n) { c[row * d.n + c0 + j] = accs[i][j]; }
        }
    }
}
`

// grayscaleWGSL: the luma of imaging.Grayscale, uint8(0.299·R + 0.587·G +
// 0.114·B + 0.5) in float64, computed exactly in integers (see grayLuma).
const grayscaleWGSL = `
struct Params { count: u32, nexc: u32, stride: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read> exc: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

// below: key (R<<16 | G<<8 | B) is one whose float64 sum falls just under
// its exact integer value (exc is sorted).
fn below(key: u32) -> bool {
    var lo = 0u;
    var hi = p.nexc;
    loop {
        if (lo >= hi) { break; }
        let mid = (lo + hi) / 2u;
        let v = exc[mid];
        if (v == key) { return true; }
        if (v < key) { lo = mid + 1u; } else { hi = mid; }
    }
    return false;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    var i = gid.x;
    loop {
        if (i >= p.count) { break; }
        let px = src[i];
        let r = px & 0xffu;
        let g = (px >> 8u) & 0xffu;
        let b = (px >> 16u) & 0xffu;
        let s = 299u * r + 587u * g + 114u * b + 500u;
        var y = s / 1000u;
        if (s % 1000u == 0u && below((r << 16u) | (g << 8u) | b)) { y = y - 1u; }
        dst[i] = (px & 0xff000000u) | (y << 16u) | (y << 8u) | y;
        i = i + p.stride;
    }
}
`

// emptyWGSL is the dispatch benchmark's kernel.
const emptyWGSL = `@compute @workgroup_size(1) fn main() {}`

// grayExceptions are the colors (R<<16 | G<<8 | B, sorted) whose luma
// imaging computes one lower than the exact (299R + 587G + 114B + 500) div
// 1000.
//
// Why a table: 0.299·R + 0.587·G + 0.114·B + 0.5 is exactly
// (299R + 587G + 114B + 500)/1000. When that is not an integer it is at
// least 0.001 from one, far beyond float64's rounding (< 1e-12 here), so
// truncating the float gives the integer quotient. When it is an integer
// (16782 of the 2^24 colors), float64's rounded products and sums land just
// under it for 3464 of them, and the truncation gives one less. f32 cannot
// reproduce float64's roundings, so the GPU computes the exact quotient in
// integers and looks those colors up.
var grayExceptions = sync.OnceValue(func() []uint32 {
	// bOf[m]: the blue values b with 114·b ≡ m (mod 1000).
	var bOf [1000][]int
	for b := 0; b < 256; b++ {
		m := 114 * b % 1000
		bOf[m] = append(bOf[m], b)
	}
	var out []uint32
	for r := 0; r < 256; r++ {
		for g := 0; g < 256; g++ {
			t := (299*r + 587*g + 500) % 1000
			for _, b := range bOf[(1000-t)%1000] {
				exact := (299*r + 587*g + 114*b + 500) / 1000
				if int(imagingLuma(uint8(r), uint8(g), uint8(b))) != exact {
					out = append(out, uint32(r)<<16|uint32(g)<<8|uint32(b))
				}
			}
		}
	}
	slices.Sort(out)
	return out
})

// imagingLuma is imaging.Grayscale's (and the image library's) luma.
func imagingLuma(r, g, b uint8) uint8 {
	return uint8(0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b) + 0.5)
}

// grayLuma is what grayscaleWGSL computes.
func grayLuma(r, g, b uint8) uint8 {
	s := 299*uint32(r) + 587*uint32(g) + 114*uint32(b) + 500
	y := s / 1000
	if s%1000 == 0 {
		if _, found := slices.BinarySearch(grayExceptions(), uint32(r)<<16|uint32(g)<<8|uint32(b)); found {
			y--
		}
	}
	return uint8(y)
}
