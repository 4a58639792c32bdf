//! [`Buf<R>`]: a `wgpu::Buffer` that carries its role `R` (`roles.rs`) in its type, so that
//! the generated `Bindings` of a kernel accept it only for a binding of that role. It derefs
//! to the `wgpu::Buffer`, so copies, writes and read-backs take it as they are.

use std::marker::PhantomData;
use std::ops::Deref;

use wgpu::util::DeviceExt;

use super::roles::{Role, StorageRole, UniformRole};

/// A buffer in role `R`.
pub struct Buf<R: Role> {
    buffer: wgpu::Buffer,
    role: PhantomData<R>,
}

impl<R: Role> Deref for Buf<R> {
    type Target = wgpu::Buffer;

    fn deref(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

impl<R: StorageRole> Buf<R> {
    /// A zeroed storage buffer of `size` bytes (see [`storage_buffer`]).
    pub fn storage(device: &wgpu::Device, label: &str, size: u64) -> Buf<R> {
        Buf::wrap(storage_buffer(device, label, size))
    }

    /// A storage buffer holding `data`, zero-padded to at least 16 bytes and a multiple of 4
    /// (the same padding as [`storage_buffer`]).
    pub fn storage_init<T: bytemuck::Pod>(
        device: &wgpu::Device,
        label: &str,
        data: &[T],
    ) -> Buf<R> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let mut padded = bytes.to_vec();
        padded.resize(bytes.len().max(16).next_multiple_of(4), 0);
        Buf::wrap(
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &padded,
                usage: STORAGE_USAGE,
            }),
        )
    }
}

impl<R: UniformRole> Buf<R> {
    /// A uniform buffer holding `value`: the uniform's content is its role's struct.
    pub fn uniform(device: &wgpu::Device, label: &str, value: &R) -> Buf<R> {
        Buf::wrap(
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            }),
        )
    }
}

impl<R: Role> Buf<R> {
    fn wrap(buffer: wgpu::Buffer) -> Buf<R> {
        Buf {
            buffer,
            role: PhantomData,
        }
    }
}

/// Storage buffers are written by the queue and copied from (read-backs, backups).
const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// A zeroed storage buffer of `size` bytes (at least 16), without a role: what
/// [`Buf::storage`] wraps, and the engine's copies of other buffers that no kernel binds (the
/// NaN guard's backup, a stream's saved state).
pub fn storage_buffer(device: &wgpu::Device, label: &str, size: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(16),
        usage: STORAGE_USAGE,
        mapped_at_creation: false,
    })
}
