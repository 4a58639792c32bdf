//! Streams of forward passes (`Engine::stream_*`): their resources and state copies.

use anyhow::bail;

use super::{BatchResources, GpuEngine};

impl GpuEngine {
    /// The batch resources of the running stream, or why there is none.
    pub(super) fn stream_resources(&self) -> anyhow::Result<&BatchResources> {
        match &self.batch_res {
            Some(r) if r.stream.is_some() => Ok(r),
            _ => bail!("no stream running: call stream_start first (any other pass ends a stream)"),
        }
    }

    /// Ends a running stream: the pass about to run overwrites its state.
    pub(super) fn end_stream(&mut self) {
        if let Some(r) = self.batch_res.as_mut() {
            r.stream = None;
        }
    }

    /// Copies each whole buffer of `from` into the one of `to` (same sizes), in one submit.
    pub(super) fn copy_buffers(&self, from: &[&wgpu::Buffer], to: &[&wgpu::Buffer]) {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("stream state copy"),
            });
        for (src, dst) in from.iter().zip(to) {
            enc.copy_buffer_to_buffer(src, 0, dst, 0, src.size());
        }
        self.ctx.queue.submit([enc.finish()]);
    }
}
