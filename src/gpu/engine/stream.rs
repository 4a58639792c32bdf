//! Streams of forward passes (`Engine::stream_*`): their resources and state copies.

use anyhow::bail;
use ndarray::Array3;

use super::resources::GpuStream;
use crate::engine::check_stream_shape;
use crate::gpu::kernels::buf::storage_buffer;
use crate::gpu::layout::StepUniform;
use crate::model::Readout;

use super::{BatchResources, GpuEngine, F32};

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

    pub(super) fn start_stream(&mut self, batch: usize, steps: usize) -> anyhow::Result<()> {
        check_stream_shape(&self.network, batch, steps)?;
        self.ensure_batch(batch, steps)?;
        let r = self.batch_res.as_mut().expect("batch resources");
        // A stream's passes score nothing: every target is "not scored" (−1, as
        // `upload_batch` writes a NaN), written once here. Every other use of the labels
        // buffer ends the stream first.
        let unscored = vec![-1i32; steps * batch * self.network.n_out()];
        self.ctx
            .queue
            .write_buffer(&r.labels, 0, bytemuck::cast_slice(&unscored));
        r.stream = Some(GpuStream {
            resume: false,
            saved: None,
        });
        Ok(())
    }

    pub(super) fn advance_stream(
        &mut self,
        x: &Array3<f32>,
        noise_seed: u32,
    ) -> anyhow::Result<Array3<f32>> {
        let Readout::Regression(k) = self.network.sim.readout else {
            bail!("a stream of forward passes needs the regression readout");
        };
        let (steps, batch, _) = x.dim();
        let resume = {
            let r = self.stream_resources()?;
            if (steps, batch) != (r.steps, r.batch) {
                bail!(
                    "a pass of the stream has {} steps of {} sequences, not {steps} of {batch}",
                    r.steps,
                    r.batch
                );
            }
            r.stream.as_ref().expect("a stream").resume
        };
        self.upload_inputs(x)?;
        self.write_step(&StepUniform {
            noise_seed,
            resume: u32::from(resume),
            ..StepUniform::default()
        });
        self.run(false, false, false)?;
        let r = self.batch_res.as_mut().expect("batch resources");
        r.stream.as_mut().expect("a stream").resume = true;
        self.read_frame_outputs(k)
    }

    pub(super) fn save_stream(&mut self) -> anyhow::Result<()> {
        let r = self.stream_resources()?;
        let sources: [&wgpu::Buffer; 3] = [&r.state, &r.pstate, &r.bits];
        let saved = match &r.stream.as_ref().expect("a stream").saved {
            Some(saved) => saved.clone(),
            None => {
                sources.map(|b| storage_buffer(&self.ctx.device, "saved stream state", b.size()))
            }
        };
        self.copy_buffers(&sources, &saved.each_ref());
        let r = self.batch_res.as_mut().expect("batch resources");
        r.stream.as_mut().expect("a stream").saved = Some(saved);
        Ok(())
    }

    pub(super) fn restore_stream(&mut self) -> anyhow::Result<()> {
        let r = self.stream_resources()?;
        let stream = r.stream.as_ref().expect("a stream");
        let saved = stream
            .saved
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the stream has no saved state to restore"))?;
        // A restored state is one a pass has left: the next pass resumes from it.
        anyhow::ensure!(stream.resume, "the stream has not run a pass yet");
        self.copy_buffers(&saved.each_ref(), &[&r.state, &r.pstate, &r.bits]);
        Ok(())
    }

    pub(super) fn read_stream_state(&self) -> anyhow::Result<Vec<u32>> {
        let r = self.stream_resources()?;
        let mut words: Vec<u32> =
            bytemuck::pod_collect_to_vec(&self.read_buffer_bytes(&r.state, r.state.size())?);
        words.extend(bytemuck::pod_collect_to_vec::<u8, u32>(
            &self.read_buffer_bytes(&r.pstate, r.pstate.size())?,
        ));
        // The last row of the spike bits (z_T and its pseudo-derivative mask): the next pass
        // starts from it.
        let row = (r.batch * 2 * r.dims.rec_words as usize) as u64 * F32;
        words.extend(bytemuck::pod_collect_to_vec::<u8, u32>(
            &self.read_buffer_range(&r.bits, r.steps as u64 * row, row)?,
        ));
        Ok(words)
    }
}
