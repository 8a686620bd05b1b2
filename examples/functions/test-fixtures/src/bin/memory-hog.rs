//! Allocates until refused: the execution must stop at its memory cap.
fn main() {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(std::hint::black_box(vec![1u8; 1 << 20]));
        edgewrite_function::log(&format!("{} MiB", held.len()));
    }
}
