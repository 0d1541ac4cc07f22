// A freestanding C guest for the fuel tests, compiled by clang for the
// wasm features it emits: SIMD, bulk memory, sign extension, saturating
// truncation, multi-value returns, indirect calls through a table.
// Rebuild clang.wasm with (clang 14, wasm-ld):
//
//   clang --target=wasm32 -O2 -nostdlib -msimd128 -mbulk-memory -msign-ext \
//     -mnontrapping-fptoint -mmultivalue -Xclang -target-abi -Xclang experimental-mv \
//     -Wl,--no-entry -o clang.wasm clang.c
#include <wasm_simd128.h>

typedef unsigned int u32;
typedef unsigned long long u64;

static unsigned char buf[1 << 16];
static unsigned char copy[1 << 16];

__attribute__((export_name("fill"))) void fill(u32 n, u32 seed) {
	u32 x = seed | 1;
	for (u32 i = 0; i < n && i < sizeof buf; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	__builtin_memcpy(copy, buf, sizeof buf);
	__builtin_memset(buf + n, 0, sizeof buf - n);
}

__attribute__((export_name("sum_simd"))) u32 sum_simd(u32 n) {
	v128_t acc = wasm_i32x4_splat(0);
	for (u32 i = 0; i + 16 <= n; i += 16) {
		v128_t v = wasm_v128_load(copy + i);
		v128_t lo = wasm_u16x8_extend_low_u8x16(v);
		v128_t hi = wasm_u16x8_extend_high_u8x16(v);
		acc = wasm_i32x4_add(acc, wasm_u32x4_extend_low_u16x8(lo));
		acc = wasm_i32x4_add(acc, wasm_u32x4_extend_high_u16x8(lo));
		acc = wasm_i32x4_add(acc, wasm_u32x4_extend_low_u16x8(hi));
		acc = wasm_i32x4_add(acc, wasm_u32x4_extend_high_u16x8(hi));
	}
	v128_t sh = wasm_i32x4_shuffle(acc, acc, 2, 3, 0, 1);
	acc = wasm_i32x4_add(acc, sh);
	return wasm_i32x4_extract_lane(acc, 0) + wasm_i32x4_extract_lane(acc, 1);
}

__attribute__((export_name("sext"))) int sext(u32 n) {
	int s = 0;
	for (u32 i = 0; i < n; i++) s += (signed char)copy[i] * (short)(i * 977);
	return s;
}

__attribute__((export_name("trunc"))) int trunc_sat(double d) { return (int)d; }

struct divmod { int q, r; };

__attribute__((noinline)) static struct divmod dm(int a, int b) {
	struct divmod r = {a / b, a % b};
	return r;
}

__attribute__((export_name("divmods"))) int divmods(int n) {
	int s = 0;
	for (int i = 1; i <= n; i++) {
		struct divmod r = dm(n * 7919, i);
		s += r.q ^ r.r;
	}
	return s;
}

static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int (*ops[])(int, int) = {add, sub, mul};

__attribute__((export_name("apply"))) int apply(u32 n) {
	int acc = 1;
	for (u32 i = 0; i < n; i++) acc = ops[i % 3](acc, (int)i + 3);
	return acc;
}

__attribute__((export_name("fib"))) u64 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
