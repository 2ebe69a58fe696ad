//! The server side of the WebSocket protocol (RFC 6455) as `/ws/events` uses it: the opening
//! handshake, unmasked frames to the client, and a reader for what a client sends (close,
//! ping, pong; data frames are read and ignored).
//!
//! Live events are sent to every subscriber as the same bytes, so each event's frame is
//! encoded once (see [`frame`]) and a subscriber's writer only copies the frames of a batch into
//! its buffer and writes them with one call. A general WebSocket library encodes every message
//! for every subscriber and flushes through a shared sink, which at thousands of subscribers
//! costs several times the work of the copy.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Opcodes of the frames this module reads and writes.
pub(crate) mod opcode {
    pub const TEXT: u8 = 0x1;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// Largest frame payload accepted from a client: it has nothing to send but control frames.
const MAX_CLIENT_PAYLOAD: u64 = 64 * 1024;

/// Why a request cannot be upgraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotUpgradable {
    /// No `Connection: upgrade`.
    Connection,
    /// No `Upgrade: websocket`.
    Upgrade,
    /// `Sec-WebSocket-Version` is not 13.
    Version,
    /// No `Sec-WebSocket-Key`.
    Key,
}

impl std::fmt::Display for NotUpgradable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connection => "connection header did not include 'upgrade'",
            Self::Upgrade => "`upgrade` header did not include 'websocket'",
            Self::Version => "websocket version must be 13",
            Self::Key => "`sec-websocket-key` header missing",
        })
    }
}

/// Checks the opening handshake's headers; returns the `Sec-WebSocket-Accept` value.
pub(crate) fn accept_key(headers: &HeaderMap) -> Result<String, NotUpgradable> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(header::CONNECTION, "upgrade") {
        return Err(NotUpgradable::Connection);
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err(NotUpgradable::Upgrade);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(NotUpgradable::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(NotUpgradable::Key)?;
    Ok(derive_accept(key.as_bytes()))
}

/// `base64(SHA-1(key + GUID))`, RFC 6455 §4.2.2.
fn derive_accept(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The `101 Switching Protocols` answer, naming the chosen subprotocol when there is one.
pub(crate) fn switching_protocols(accept: &str, protocol: Option<&str>) -> Response {
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(v) = protocol.and_then(|p| HeaderValue::from_str(p).ok()) {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    response
}

/// One complete, unmasked frame from the server (FIN set).
pub(crate) fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        #[allow(clippy::cast_possible_truncation, reason = "the length is below 126")]
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// A close frame with a status code and a short reason.
pub(crate) fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut payload = code.to_be_bytes().to_vec();
    // control frame payloads are at most 125 bytes
    payload.extend(reason.bytes().take(123));
    frame(opcode::CLOSE, &payload)
}

/// What a client sent that the writer must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FromClient {
    /// A ping: answer with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// A close: answer with a close frame and stop.
    Close(Option<u16>),
}

/// Reads client frames until a close, the end of the stream or a protocol error, reporting
/// pings and the close to `report`. Data and pong frames are read and ignored.
///
/// # Errors
/// I/O errors, and `InvalidData` for unmasked or oversized frames.
pub(crate) async fn read_client<R, F>(mut reader: R, mut report: F) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    F: FnMut(FromClient),
{
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    loop {
        let mut head = [0u8; 2];
        reader.read_exact(&mut head).await?;
        let op = head[0] & 0x0F;
        if head[1] & 0x80 == 0 {
            return Err(invalid("client frames must be masked"));
        }
        let len = match head[1] & 0x7F {
            126 => u64::from(reader.read_u16().await?),
            127 => reader.read_u64().await?,
            n => u64::from(n),
        };
        if len > MAX_CLIENT_PAYLOAD {
            return Err(invalid("client frame too large"));
        }
        let mut mask = [0u8; 4];
        reader.read_exact(&mut mask).await?;
        let mut payload = vec![0u8; usize::try_from(len).unwrap_or(0)];
        reader.read_exact(&mut payload).await?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match op {
            opcode::PING => report(FromClient::Ping(payload)),
            opcode::CLOSE => {
                let code =
                    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                report(FromClient::Close(code));
                return Ok(());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        assert_eq!(
            derive_accept(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn handshakes_need_every_header() {
        let mut h = HeaderMap::new();
        assert_eq!(accept_key(&h), Err(NotUpgradable::Connection));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert_eq!(accept_key(&h), Err(NotUpgradable::Upgrade));
        h.insert(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        assert_eq!(accept_key(&h), Err(NotUpgradable::Version));
        h.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        assert_eq!(accept_key(&h), Err(NotUpgradable::Key));
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        assert_eq!(
            accept_key(&h).as_deref(),
            Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
    }

    #[test]
    fn frames_use_the_shortest_length_encoding() {
        assert_eq!(&frame(opcode::TEXT, b"hi")[..], &[0x81, 2, b'h', b'i']);
        let mid = frame(opcode::TEXT, &[b'x'; 300]);
        assert_eq!(&mid[..4], &[0x81, 126, 1, 44]);
        assert_eq!(mid.len(), 304);
        let big = frame(opcode::TEXT, &vec![b'x'; 70_000]);
        assert_eq!(&big[..2], &[0x81, 127]);
        assert_eq!(u64::from_be_bytes(big[2..10].try_into().unwrap()), 70_000);
        assert_eq!(
            &close_frame(1001, "bye")[..],
            &[0x88, 5, 0x03, 0xE9, b'b', b'y', b'e']
        );
    }

    fn masked(op: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![0x80 | op];
        if payload.len() < 126 {
            out.push(0x80 | u8::try_from(payload.len()).unwrap());
        } else {
            out.push(0x80 | 126);
            out.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[tokio::test]
    async fn the_reader_reports_pings_and_the_close_and_skips_data() {
        let mut input = masked(opcode::TEXT, &[b'a'; 200]);
        input.extend(masked(opcode::PING, b"are you there"));
        input.extend(masked(opcode::PONG, b""));
        input.extend(masked(opcode::CLOSE, &1000u16.to_be_bytes()));
        input.extend(masked(opcode::PING, b"after the close"));
        let mut seen = Vec::new();
        read_client(&input[..], |m| seen.push(m)).await.unwrap();
        assert_eq!(
            seen,
            [
                FromClient::Ping(b"are you there".to_vec()),
                FromClient::Close(Some(1000))
            ]
        );
        // unmasked frames are a protocol error
        let err = read_client(&[0x81u8, 0][..], |_| {}).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        // the end of the stream is an error the caller treats as "gone"
        assert!(read_client(&[][..], |_| {}).await.is_err());
    }
}
