// Package instrument rewrites WebAssembly binaries at deploy time so that the
// runtime can run them cheaply.
//
// It owns a minimal binary parser (LEB128, the section framing, the import,
// function, global, export, memory, data and code sections, and a walk over
// every instruction with its immediates) and these rewrites:
//
//   - Interrupt checks: every branch back to a loop header decrements a
//     countdown global; every CheckInterval iterations the guest leaves
//     compiled code for a moment (so Go's garbage collector can stop its
//     goroutine) and traps with `unreachable` if the host has set the
//     interrupt global (exported as InterruptExport). This replaces
//     wazero's WithCloseOnContextDone, which leaves compiled code through
//     an indirect call at every loop header and function entry and makes
//     Go guests several times slower.
//   - Global exports: every defined mutable global exported as
//     GlobalExportPrefix+index, so a host can read and restore them.
//   - Data stripping: active data segments turned into empty passive ones
//     (indices and the data count stay valid), and the defined memory's
//     minimum raised, for restoring a memory snapshot instead of running
//     the data segments and the guest's initialisation again.
//
// While walking the code it counts, per function, the control instructions
// (Info.MaxFunctionBranches), so the runtime can refuse functions that
// would take minutes to compile.
//
// Everything it does not understand (SIMD, threads, exceptions, tail calls,
// GC types, memory64) makes it return ErrUnsupported; malformed input gives
// ErrMalformed. Either way the caller runs the original bytes by another
// means. It does not import wazero and does not validate types: wazero
// validates the rewritten module when compiling it.
package instrument
