//! Tries to reach a host the deployment does not allow, and answers with what happened.
fn main() {
    let req = edgewrite_function::request();
    let url = req["bodyText"].as_str().unwrap_or("http://example.com/");
    match edgewrite_function::fetch("GET", url, &[], "") {
        Ok(answer) => edgewrite_function::respond(200, &[], &format!("reached: {}", answer.status)),
        Err(reason) => edgewrite_function::respond(200, &[], &format!("refused: {reason}")),
    }
}
