//! `web-client`: see the library's documentation (`cargo doc -p web-client --open`).

use clap::Parser;
use web_client::Config;

#[tokio::main]
async fn main() {
    let config = Config::parse();
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("web-client: cannot listen on {}: {e}", config.listen);
            std::process::exit(1);
        }
    };
    println!(
        "web-client listening on {} (issuer {}, client {})",
        config.url().as_str().trim_end_matches('/'),
        config.issuer.as_str(),
        config.client_id
    );
    if let Err(e) = axum::serve(listener, web_client::router(config)).await {
        eprintln!("web-client: {e}");
        std::process::exit(1);
    }
}
