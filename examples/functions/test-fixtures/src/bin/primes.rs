//! CPU-bound: counts the primes below the number in the body by trial division. The benchmark
//! runs it in edgewrite's interpreter and natively to measure the interpreter's overhead.
fn main() {
    let req = edgewrite_function::request();
    let limit: u32 = req["bodyText"].as_str().and_then(|s| s.trim().parse().ok()).unwrap_or(10_000);
    let mut count = 0u32;
    for n in 2..limit {
        let mut d = 2;
        let mut prime = true;
        while d * d <= n {
            if n % d == 0 {
                prime = false;
                break;
            }
            d += 1;
        }
        count += u32::from(prime);
    }
    edgewrite_function::respond(200, &[("content-type", "text/plain")], &count.to_string());
}
