//! The application's calls on a connection: read, write, shutdown, close
//! (docs/contract.md rules 1 to 13; RFC 9293 3.10.2-3.10.5).

use crate::api::{CloseOutcome, Error, Result, Shutdown, State};
use crate::buf::{BufferPool, PacketBuf};
use crate::stats::{RstReason, Stats};

use super::send_queue::{Pushed, WriteStop};

use super::timers::TimerKind;
use super::{Ctx, Outcome, Tcb};

impl<B: PacketBuf> Tcb<B> {
    fn check_reset_for_read(&mut self) -> Result<()> {
        match self.reset {
            Some(cause) => {
                self.reset_reported = true;
                Err(cause.error())
            }
            None => Ok(()),
        }
    }

    /// Contract 3: a reset is reported once, then writes see BrokenPipe.
    fn check_writable(&mut self) -> Result<()> {
        if let Some(cause) = self.reset {
            if self.reset_reported {
                return Err(Error::BrokenPipe);
            }
            self.reset_reported = true;
            return Err(cause.error());
        }
        if self.write_shut {
            return Err(Error::BrokenPipe);
        }
        match self.state {
            // RFC 9293 3.10.2: data written before the handshake completes
            // is queued and sent once established.
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => Ok(()),
            State::Closed => Err(Error::NotConnected),
            _ => Err(Error::BrokenPipe),
        }
    }

    /// Contracts 4, 5, 6, 11. A reset discards buffered data and is
    /// reported at once (contract 6: "at once").
    pub fn read(&mut self, ctx: &Ctx, dst: &mut [u8]) -> Result<usize> {
        self.check_reset_for_read()?;
        if self.read_shut || dst.is_empty() {
            return Ok(0);
        }
        if !self.recv.is_empty() {
            let n = self.recv.read(dst);
            self.after_read(ctx);
            return Ok(n);
        }
        self.read_state()
    }

    /// Zero-copy read: the next received buffer, whole.
    pub fn read_buf(&mut self, ctx: &Ctx) -> Result<Option<B>> {
        self.check_reset_for_read()?;
        if self.read_shut {
            return Ok(None);
        }
        if let Some(buf) = self.recv.pop_buf() {
            self.after_read(ctx);
            return Ok(Some(buf));
        }
        self.read_state().map(|_| None)
    }

    /// What an empty receive buffer means: end of stream or not yet.
    fn read_state(&self) -> Result<usize> {
        if self.peer_fin {
            return Ok(0);
        }
        match self.state {
            State::Closed => Ok(0),
            State::SynSent | State::SynReceived => Err(Error::WouldBlock),
            _ => Err(Error::WouldBlock),
        }
    }

    /// Contracts 1, 2, 3. A memory limit counts as a full buffer
    /// (`WouldBlock`, then `Writable` once acknowledgments free some); a
    /// pool down to its reserve (`tcp.pool_reserve`) is `NoBuffers`.
    pub fn write<P: BufferPool<Buf = B>>(
        &mut self,
        ctx: &Ctx,
        pool: &mut P,
        data: &[u8],
        stats: &mut Stats,
    ) -> Result<usize> {
        self.check_writable()?;
        if data.is_empty() {
            return Ok(0);
        }
        self.note_queueing(ctx);
        let mut allowance = self.send_allowance(ctx);
        let (n, stop) = self
            .send
            .write(pool, data, ctx.cfg.pool_reserve, |ts| allowance.admit(ts));
        if n < data.len() {
            self.want_writable = true;
        }
        if stop == Some(WriteStop::Memory) {
            stats.memory.write_refused += 1;
            self.mem_waiting |= allowance.engine_refused;
        }
        match (n, stop) {
            (0, Some(WriteStop::Pool)) => Err(Error::NoBuffers),
            (0, _) => Err(Error::WouldBlock),
            (n, _) => Ok(n),
        }
    }

    /// Zero-copy write of a whole buffer; it is handed back when it does
    /// not fit, when memory limits refuse it (`WouldBlock` both), when the
    /// pool is down to its reserve (`NoBuffers`: `pool_low`), or when the
    /// connection cannot send. A buffer far smaller than its truesize is
    /// copied onto the queue's tail instead, and freed.
    pub fn write_buf(
        &mut self,
        ctx: &Ctx,
        buf: B,
        pool_low: bool,
        stats: &mut Stats,
    ) -> core::result::Result<(), (Error, B)> {
        if let Err(e) = self.check_writable() {
            return Err((e, buf));
        }
        self.note_queueing(ctx);
        let mut allowance = self.send_allowance(ctx);
        let admit = |ts| {
            if pool_low {
                Err(WriteStop::Pool)
            } else if allowance.admit(ts) {
                Ok(())
            } else {
                Err(WriteStop::Memory)
            }
        };
        let pushed = self.send.push_buf(buf, ctx.mem.collapse_all(), admit);
        let engine_refused = allowance.engine_refused;
        match pushed {
            Ok(Pushed::Queued) => Ok(()),
            Ok(Pushed::Collapsed(n)) => {
                stats.note_tx_copy(n);
                Ok(())
            }
            Err((stop, buf)) => {
                self.want_writable = true;
                match stop {
                    Some(WriteStop::Pool) => Err((Error::NoBuffers, buf)),
                    Some(WriteStop::Memory) => {
                        stats.memory.write_refused += 1;
                        self.mem_waiting |= engine_refused;
                        Err((Error::WouldBlock, buf))
                    }
                    None => Err((Error::WouldBlock, buf)),
                }
            }
        }
    }

    /// Data is about to be queued: with nothing queued before, the user
    /// timeout starts counting now.
    fn note_queueing(&mut self, ctx: &Ctx) {
        if self.send.len() == 0 && self.snd_una == self.snd_max {
            self.progress_at = ctx.now;
        }
    }

    /// Contracts 10, 11, 12.
    pub fn shutdown(&mut self, how: Shutdown) -> Result<()> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut = true;
            self.recv.clear();
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) && !self.write_shut {
            self.write_shut = true;
            self.queue_fin();
        }
        Ok(())
    }

    /// Schedules our FIN after the queued data (RFC 9293 3.10.4 CLOSE):
    /// ESTABLISHED -> FIN_WAIT_1, CLOSE_WAIT -> LAST_ACK. During the
    /// handshake the FIN waits until ESTABLISHED.
    pub fn queue_fin(&mut self) {
        let next = match self.state {
            State::Established => State::FinWait1,
            State::CloseWait => State::LastAck,
            _ => return,
        };
        self.fin_seq = Some(self.data_end());
        self.state = next;
    }

    /// The last handle was closed (contracts 8, 9, 13): the connection
    /// closes gracefully on its own, or the outcome asks for an abort
    /// (unread data, linger 0).
    pub fn close(&mut self, ctx: &Ctx) -> Outcome {
        self.orphan = true;
        self.start_close(ctx);
        self.finish()
    }

    fn start_close(&mut self, ctx: &Ctx) {
        match self.state {
            State::Closed | State::TimeWait => {
                // Nothing left to acknowledge: with linger set, the outcome
                // is known now (contract 9b), if it was not already (an
                // abort just before).
                let outcome = if self.aborted {
                    CloseOutcome::Aborted
                } else if self.reset.is_some() {
                    CloseOutcome::Reset
                } else {
                    CloseOutcome::Graceful
                };
                return self.report_close(outcome);
            }
            // Nobody else knows about this connection yet.
            State::SynSent => {
                self.report_close(CloseOutcome::Aborted);
                self.set_state(State::Closed);
                return;
            }
            _ => {}
        }
        if self.linger == Some(core::time::Duration::ZERO) {
            return self.abort_with(RstReason::Abort);
        }
        if !self.recv.is_empty() {
            self.report_close(CloseOutcome::Aborted);
            return self.abort_with(RstReason::UnreadData);
        }
        self.read_shut = true;
        if !self.write_shut {
            self.write_shut = true;
            self.queue_fin();
        }
        if let Some(t) = self.linger {
            if self.fin_acked() {
                self.report_close(CloseOutcome::Graceful);
            } else {
                self.deadlines.set(TimerKind::Linger, ctx.now + t);
            }
        }
        if self.state == State::FinWait2 {
            self.deadlines
                .set(TimerKind::Lifetime, ctx.now + ctx.cfg.fin_wait2_timeout);
        }
    }
}
