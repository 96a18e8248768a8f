//! endsession wasm module (placeholder until the client lands).
