//! A room per kernel: `kernels/<name>.rs` is the host twin of `shaders/<name>.wgsl`. It owns
//! the kernel's bindings, declared once as a struct of named buffers (`kernel_bindings!`)
//! from which the WGSL `@binding` declarations, the explicit bind-group layout and the bind
//! group are all generated, so a buffer is bound by the name the kernel reads it by, never
//! by position; and its dispatch grid. `GpuEngine` only orders the stages.
//!
//! **Typed bindings.** Each buffer also has a role, a type of its own (`roles.rs`): the
//! uniform roles are the `gpu::layout` structs (`Dims`, `Chunk`, `StepUniform`,
//! `RewireUniform`), the storage roles are markers named after their binding (`Model`,
//! `Grads`, …). A binding is declared as `name: Kind Role` (`Kind` is `Uniform`, `Read` or
//! `ReadWrite`), the role gives the WGSL type (`Role::WGSL_TYPE`), and the generated
//! `Bindings` field is a `&Buf<Role>` (`buf.rs`: a `wgpu::Buffer` that carries its role and
//! derefs to it). A buffer is created in its role (`Buf::<Model>::storage_init`,
//! `Buf::uniform(device, label, &dims)`), so binding it under another name is a compile
//! error, not a bind group that validates and computes the wrong thing. A declaration whose
//! kind disagrees with its role (a uniform role bound as storage, or the reverse) fails to
//! compile too (a `const` assertion the macro writes).
//!
//! The bindings of a kernel, each buffer in its own role, compile:
//!
//! ```
//! use lsnn_gpu::gpu::kernels::batch_reduce::Bindings;
//! use lsnn_gpu::gpu::kernels::roles::{Constraints, Dims, Grads, Model, Partials};
//! use lsnn_gpu::gpu::kernels::Buf;
//!
//! fn bind<'a>(
//!     dims: &'a Buf<Dims>,
//!     partials: &'a Buf<Partials>,
//!     constraints: &'a Buf<Constraints>,
//!     grads: &'a Buf<Grads>,
//!     model: &'a Buf<Model>,
//! ) -> Bindings<'a> {
//!     Bindings { dims, partials, constraints, grads: grads, model: model }
//! }
//! ```
//!
//! and the same with two buffers swapped does not (E0308: expected `&Buf<Grads>`, found
//! `&Buf<Model>`):
//!
//! ```compile_fail
//! use lsnn_gpu::gpu::kernels::batch_reduce::Bindings;
//! use lsnn_gpu::gpu::kernels::roles::{Constraints, Dims, Grads, Model, Partials};
//! use lsnn_gpu::gpu::kernels::Buf;
//!
//! fn bind<'a>(
//!     dims: &'a Buf<Dims>,
//!     partials: &'a Buf<Partials>,
//!     constraints: &'a Buf<Constraints>,
//!     grads: &'a Buf<Grads>,
//!     model: &'a Buf<Model>,
//! ) -> Bindings<'a> {
//!     Bindings { dims, partials, constraints, grads: model, model: grads }
//! }
//! ```

pub mod adam;
pub mod alif_backward;
pub mod alif_forward;
pub mod batch_reduce;
pub mod buf;
pub mod deep_r_refill;
pub mod loss_reduce;
pub mod readout_loss;
pub mod roles;
pub mod sparse_rows;

pub use buf::Buf;

use super::shader::{kernel_source, ShaderConstants};

/// How a kernel reads a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    Uniform,
    Read,
    ReadWrite,
}

/// One binding of a kernel: its name in WGSL (and in the Rust struct), kind, role (the
/// name of its type in `roles`) and WGSL type (the role's).
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub name: &'static str,
    pub kind: BindingKind,
    pub role: &'static str,
    pub ty: &'static str,
}

/// Declares `pub struct $name<'a>` with one `&Buf<Role>` per binding, in binding order, and
/// `$name::BINDINGS`, the list the WGSL declarations and the layout are generated from. Each
/// binding is `field: Kind Role`, `Role` a type of `kernels::roles`.
macro_rules! kernel_bindings {
    (
        $(#[doc = $doc:literal])*
        $name:ident { $( $field:ident : $kind:ident $role:ident ),* $(,)? }
    ) => {
        $(#[doc = $doc])*
        pub struct $name<'a> {
            $( pub $field: &'a $crate::gpu::kernels::Buf<$crate::gpu::kernels::roles::$role>, )*
        }

        // A uniform role is bound as `Uniform`, a storage role as `Read` or `ReadWrite`.
        const _: () = {$(
            assert!(
                <$crate::gpu::kernels::roles::$role as $crate::gpu::kernels::roles::Role>::UNIFORM
                    == matches!(
                        $crate::gpu::kernels::BindingKind::$kind,
                        $crate::gpu::kernels::BindingKind::Uniform
                    ),
                concat!("binding `", stringify!($field), "`: its kind does not suit its role"),
            );
        )*};

        impl<'a> $name<'a> {
            pub const BINDINGS: &'static [$crate::gpu::kernels::Binding] = &[$(
                $crate::gpu::kernels::Binding {
                    name: stringify!($field),
                    kind: $crate::gpu::kernels::BindingKind::$kind,
                    role: stringify!($role),
                    ty: <$crate::gpu::kernels::roles::$role
                        as $crate::gpu::kernels::roles::Role>::WGSL_TYPE,
                }
            ),*];

            /// The bind group of these buffers for `kernel`.
            pub fn bind_group(
                &self,
                device: &wgpu::Device,
                kernel: &$crate::gpu::kernels::Kernel,
                label: &str,
            ) -> wgpu::BindGroup {
                kernel.bind_group(device, label, Self::BINDINGS, &[$(&**self.$field),*])
            }
        }
    };
}
// Named by path (`crate::gpu::kernels::kernel_bindings`), like every other item of the crate.
pub(crate) use kernel_bindings;

/// The bindings of kernel `name` (a name of `shader::ALL_KERNELS`).
pub fn bindings(name: &str) -> &'static [Binding] {
    match name {
        alif_forward::NAME => alif_forward::Bindings::BINDINGS,
        readout_loss::NAME => readout_loss::Bindings::BINDINGS,
        loss_reduce::NAME => loss_reduce::Bindings::BINDINGS,
        sparse_rows::NAME => sparse_rows::Bindings::BINDINGS,
        alif_backward::NAME => alif_backward::Bindings::BINDINGS,
        batch_reduce::NAME => batch_reduce::Bindings::BINDINGS,
        adam::NAME => adam::Bindings::BINDINGS,
        deep_r_refill::NAME => deep_r_refill::Bindings::BINDINGS,
        other => panic!("unknown kernel {other}"),
    }
}

/// The WGSL declarations of `bindings`, numbered in order in group 0.
pub fn wgsl_bindings(bindings: &[Binding]) -> String {
    let mut s =
        String::from("// Bindings, generated from the kernel's room in src/gpu/kernels/.\n");
    for (i, b) in bindings.iter().enumerate() {
        let space = match b.kind {
            BindingKind::Uniform => "uniform",
            BindingKind::Read => "storage, read",
            BindingKind::ReadWrite => "storage, read_write",
        };
        s += &format!(
            "@group(0) @binding({i}) var<{space}> {}: {};\n",
            b.name, b.ty
        );
    }
    s
}

/// Workgroups of an elementwise kernel over `n` items of `size` per workgroup: 2-D when over
/// the per-dimension limit (the kernels index e = gid.x + gid.y * groups.x * size).
pub fn elementwise_grid(n: u32, size: u32, max_per_dim: u32) -> (u32, u32) {
    let groups = n.div_ceil(size).max(1);
    if groups <= max_per_dim {
        (groups, 1)
    } else {
        (max_per_dim, groups.div_ceil(max_per_dim))
    }
}

/// A compiled kernel: its pipeline and the explicit layout of its bind group.
pub struct Kernel {
    pub name: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

impl Kernel {
    /// Compiles kernel `name` with an explicit bind-group layout built from its bindings.
    pub fn new(device: &wgpu::Device, name: &'static str, constants: &ShaderConstants) -> Kernel {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings(name)
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b.kind {
                        BindingKind::Uniform => wgpu::BufferBindingType::Uniform,
                        BindingKind::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        BindingKind::ReadWrite => {
                            wgpu::BufferBindingType::Storage { read_only: false }
                        }
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(name),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(kernel_source(name, constants).into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Kernel {
            name,
            pipeline,
            layout,
        }
    }

    /// The bind group of `buffers`, given in the order of `bindings`. Crate-private: the
    /// generated `Bindings::bind_group`, which checks the buffers' roles, is the only caller.
    pub(crate) fn bind_group(
        &self,
        device: &wgpu::Device,
        label: &str,
        bindings: &[Binding],
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let names = |b: &[Binding]| b.iter().map(|b| b.name).collect::<Vec<_>>();
        assert_eq!(
            names(bindings),
            names(self::bindings(self.name)),
            "bindings of another kernel given to {}",
            self.name
        );
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.layout,
            entries: &entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::shader::ALL_KERNELS;

    /// The premise of the typed bindings: a binding name means one role (so one WGSL type)
    /// in every kernel, and the WGSL names each role's uniform struct by the struct's name.
    #[test]
    fn each_binding_name_has_one_role_in_every_kernel() {
        let mut seen = std::collections::BTreeMap::new();
        for kernel in ALL_KERNELS {
            for b in bindings(kernel) {
                let (role, ty) = *seen.entry(b.name).or_insert((b.role, b.ty));
                assert_eq!((role, ty), (b.role, b.ty), "`{}` in {kernel}", b.name);
                if b.kind == BindingKind::Uniform {
                    assert_eq!(b.role, b.ty, "`{}` in {kernel}", b.name);
                }
            }
        }
        // dims, chunk, step, rewire and the 15 storage roles.
        assert_eq!(seen.len(), 19);
    }
}
