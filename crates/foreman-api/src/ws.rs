//! The server side of the WebSocket protocol (RFC 6455) as `/ws/events` uses it: the opening
//! handshake, unmasked frames to the client, and a reader for what a client sends (close,
//! ping, pong; data frames are read and ignored). The reader enforces the protocol's limits:
//! control frames at most 125 bytes and unfragmented, data frames at most
//! [`MAX_CLIENT_PAYLOAD`], no reserved bits or opcodes, masked frames, and close frames whose
//! code a server may echo (RFC 6455 §5.5, §7.4).
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

/// Largest data frame payload accepted from a client: it has nothing to send but control frames.
pub(crate) const MAX_CLIENT_PAYLOAD: u64 = 4 * 1024;

/// Largest control frame payload (ping, pong, close), RFC 6455 §5.5.
pub(crate) const MAX_CONTROL_PAYLOAD: u64 = 125;

/// Close codes of RFC 6455 §7.4 the server answers with.
pub(crate) mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_DATA: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
}

/// Whether a client may send `code` in a close frame (so the server may echo it): the codes
/// RFC 6455 and the IANA registry define for use on the wire, and the 3000–4999 range of
/// libraries and applications. 1004–1006 and 1015 are reserved and never sent.
pub(crate) fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

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

/// What a client sent. Every frame counts as a sign of life (the pong deadline); pings and
/// closes must be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FromClient {
    /// A ping: answer with a pong carrying the same payload (at most 125 bytes).
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A data frame (read and ignored).
    Data,
    /// A valid close: answer with a close frame carrying this code (1000 when the client gave
    /// none) and stop.
    Close(Option<u16>),
    /// The client broke the protocol: answer with a close frame with this code and reason,
    /// and stop. An invalid close code is answered so, never echoed.
    Violation(u16, &'static str),
}

/// Reads client frames until a close, the end of the stream or a protocol error, reporting each
/// frame to `report` (a violation is reported, then returned as an error).
///
/// # Errors
/// I/O errors, and `InvalidData` for protocol violations.
pub(crate) async fn read_client<R, F>(mut reader: R, mut report: F) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    F: FnMut(FromClient),
{
    loop {
        let mut head = [0u8; 2];
        reader.read_exact(&mut head).await?;
        let (fin, rsv, op) = (head[0] & 0x80 != 0, head[0] & 0x70, head[0] & 0x0F);
        let control = op & 0x08 != 0;
        let mut violation = |code: u16, why: &'static str| {
            report(FromClient::Violation(code, why));
            Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why))
        };
        if head[1] & 0x80 == 0 {
            return violation(close::PROTOCOL_ERROR, "client frames must be masked");
        }
        if rsv != 0 {
            return violation(close::PROTOCOL_ERROR, "reserved bits set");
        }
        if !matches!(op, 0x0..=0x2 | opcode::CLOSE | opcode::PING | opcode::PONG) {
            return violation(close::PROTOCOL_ERROR, "unknown opcode");
        }
        let len = match head[1] & 0x7F {
            126 => u64::from(reader.read_u16().await?),
            127 => reader.read_u64().await?,
            n => u64::from(n),
        };
        if control && (len > MAX_CONTROL_PAYLOAD || !fin) {
            return violation(
                close::PROTOCOL_ERROR,
                "control frames carry at most 125 bytes, unfragmented",
            );
        }
        if len > MAX_CLIENT_PAYLOAD {
            return violation(close::TOO_BIG, "frame too large");
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
            opcode::PONG => report(FromClient::Pong),
            opcode::CLOSE => {
                return match close_of(&payload) {
                    Ok(code) => {
                        report(FromClient::Close(code));
                        Ok(())
                    }
                    Err((code, why)) => violation(code, why),
                };
            }
            _ => report(FromClient::Data),
        }
    }
}

/// The code of a close frame's payload; a violation for a one-byte payload, a code a client
/// may not send, or a reason that is not UTF-8.
fn close_of(payload: &[u8]) -> Result<Option<u16>, (u16, &'static str)> {
    match payload {
        [] => Ok(None),
        [_] => Err((close::PROTOCOL_ERROR, "close payload of one byte")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err((close::PROTOCOL_ERROR, "invalid close code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err((close::INVALID_DATA, "close reason is not utf-8"));
            }
            Ok(Some(code))
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
                FromClient::Data,
                FromClient::Ping(b"are you there".to_vec()),
                FromClient::Pong,
                FromClient::Close(Some(1000))
            ]
        );
        // unmasked frames are a protocol error
        let err = read_client(&[0x81u8, 0][..], |_| {}).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        // the end of the stream is an error the caller treats as "gone"
        assert!(read_client(&[][..], |_| {}).await.is_err());
    }

    async fn verdict(input: Vec<u8>) -> Vec<FromClient> {
        let mut seen = Vec::new();
        let _ = read_client(&input[..], |m| seen.push(m)).await;
        seen
    }

    #[tokio::test]
    async fn oversized_and_malformed_frames_are_violations() {
        // a ping of 126 bytes is over the control frame limit; 125 is fine (control)
        assert_eq!(
            verdict(masked(opcode::PING, &[0; 126])).await,
            [FromClient::Violation(
                close::PROTOCOL_ERROR,
                "control frames carry at most 125 bytes, unfragmented"
            )]
        );
        assert_eq!(
            verdict(masked(opcode::PING, &[7; 125])).await,
            [FromClient::Ping(vec![7; 125])]
        );
        // data frames: the cap, and one byte over it
        assert_eq!(
            verdict(masked(opcode::TEXT, &vec![b'a'; 4096])).await,
            [FromClient::Data]
        );
        assert_eq!(
            verdict(masked(opcode::TEXT, &vec![b'a'; 4097])).await,
            [FromClient::Violation(close::TOO_BIG, "frame too large")]
        );
        // a fragmented ping, reserved bits, an unknown opcode
        let mut unfinished = masked(opcode::PING, b"x");
        unfinished[0] &= 0x7F;
        let mut reserved = masked(opcode::TEXT, b"x");
        reserved[0] |= 0x40;
        for input in [unfinished, reserved, masked(0x3, b"")] {
            let seen = verdict(input).await;
            assert!(
                matches!(seen[..], [FromClient::Violation(close::PROTOCOL_ERROR, _)]),
                "{seen:?}"
            );
        }
    }

    #[tokio::test]
    async fn close_codes_are_validated() {
        for code in [1000u16, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert_eq!(
                verdict(masked(opcode::CLOSE, &code.to_be_bytes())).await,
                [FromClient::Close(Some(code))],
                "{code}"
            );
        }
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert_eq!(
                verdict(masked(opcode::CLOSE, &code.to_be_bytes())).await,
                [FromClient::Violation(
                    close::PROTOCOL_ERROR,
                    "invalid close code"
                )],
                "{code}"
            );
        }
        assert_eq!(
            verdict(masked(opcode::CLOSE, b"")).await,
            [FromClient::Close(None)]
        );
        assert_eq!(
            verdict(masked(opcode::CLOSE, &[3])).await,
            [FromClient::Violation(
                close::PROTOCOL_ERROR,
                "close payload of one byte"
            )]
        );
        let mut bad_reason = 1000u16.to_be_bytes().to_vec();
        bad_reason.extend([0xff, 0xfe]);
        assert_eq!(
            verdict(masked(opcode::CLOSE, &bad_reason)).await,
            [FromClient::Violation(
                close::INVALID_DATA,
                "close reason is not utf-8"
            )]
        );
    }
}
