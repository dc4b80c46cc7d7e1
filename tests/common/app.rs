//! One step of an app that writes all its data and then closes, shared by the simulation
//! tests that drive connections by hand.
use linerate::{ConnId, Device, IoError, Stack};

/// One step of "write all of `data`, then close": sends from `*off` while the stack takes
/// bytes, and closes once it has taken all of them. Any send error but `WouldBlock` is
/// returned.
pub fn write_then_close<D: Device>(
    stack: &mut Stack<D>,
    id: ConnId,
    data: &[u8],
    off: &mut usize,
    closed: &mut bool,
) -> Result<(), IoError> {
    while *off < data.len() {
        match stack.send(id, &data[*off..]) {
            Ok(n) => *off += n,
            Err(IoError::WouldBlock) => break,
            Err(e) => return Err(e),
        }
    }
    if *off == data.len() && !*closed {
        stack.close(id)?;
        *closed = true;
    }
    Ok(())
}
