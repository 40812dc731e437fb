//! Headless Chromium driven over WebDriver (Debian `chromium` + `chromium-driver`, through
//! `fantoccini`), for the browser paywall test. Missing browser → the test fails with how to
//! install it (`tests/run-all.sh` installs both).

use std::{path::Path, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::process::{Child, Command};

const CHROMIUM: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const DRIVER: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

fn first(paths: &[&'static str]) -> Option<&'static str> {
    paths.iter().copied().find(|p| Path::new(p).exists())
}

/// A headless Chromium session (its chromedriver is killed on drop).
pub struct Chrome {
    /// The WebDriver client.
    pub client: Client,
    _driver: Child,
}

impl Chrome {
    /// Start chromedriver on a free loopback port and open a headless session.
    pub async fn start() -> Chrome {
        let (Some(chromium), Some(driver)) = (first(CHROMIUM), first(DRIVER)) else {
            panic!(
                "headless Chromium is required by this test and is not installed: \
                 run `apt-get install -y chromium chromium-driver` (tests/run-all.sh does)"
            );
        };
        for _ in 0..5 {
            // chromedriver takes no port 0: take a free one from the kernel, then hand it over
            // (retried if another process took it in between).
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let mut child = Command::new(driver)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start chromedriver");
            let url = format!("http://127.0.0.1:{port}");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while tokio::time::Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break; // exited (port taken?): try another port
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    let client = session(&url, chromium).await;
                    return Chrome {
                        client,
                        _driver: child,
                    };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill().await;
        }
        panic!("chromedriver did not start");
    }

    /// Wait until `css` matches an element, at most `secs` seconds; panics with `what`.
    pub async fn wait_for(
        &self,
        css: &str,
        secs: u64,
        what: &str,
    ) -> fantoccini::elements::Element {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {secs} s waiting for {what} ({css}); page:\n{}",
                self.client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether `css` matches an element now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }
}

async fn session(url: &str, chromium: &str) -> Client {
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=720,900", "--no-first-run", "--disable-extensions",
                "--force-device-scale-factor=1",
            ],
        },
    });
    let caps = caps.as_object().cloned().unwrap_or_default();
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(caps);
    builder
        .connect(url)
        .await
        .expect("open a Chromium session over WebDriver")
}
