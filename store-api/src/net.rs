//! Accepting TCP connections, as every server of the project does: no Nagle (an answer in
//! two segments would wait for the peer's delayed ACK, 40 ms), and an accept error (out of
//! file descriptors and the like) waited out rather than spun on.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// The next connection of `listener`.
pub async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                if let Err(err) = tcp.set_nodelay(true) {
                    tracing::debug!(%err, "cannot set TCP_NODELAY");
                }
                return (tcp, peer);
            }
            Err(err) => {
                tracing::warn!(%err, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
