//! The WGSL kernels, checked without a GPU: every kernel parses, validates with only the
//! capabilities every WebGPU backend has, and translates to SPIR-V (Vulkan), MSL (Metal),
//! HLSL (DX12) and GLSL (GL / GLES); it fits WebGPU's default limits; and the WGSL structs
//! generated from `src/gpu/layout.rs` have the offsets of their `#[repr(C)]` Rust twins.

use lsnn_gpu::gpu::layout::{Chunk, Dims, RewireUniform, StepUniform};
use lsnn_gpu::gpu::shader::{kernel_source, ShaderConstants, ALL_KERNELS};
use lsnn_gpu::wgsl::{WgslField, WgslStruct};
use naga::back::{glsl, hlsl, msl, spv};
use naga::error::ShaderError;
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Module, TypeInner};

/// Workgroup sizes of the per-sequence kernels the host may pick (CPU adapters to GPUs).
const WORKGROUP_SIZES: [u32; 4] = [8, 16, 64, 256];

/// WebGPU default limits (https://www.w3.org/TR/webgpu/#limit-default).
const MAX_WORKGROUP_STORAGE_BYTES: u32 = 16384;
const MAX_STORAGE_BUFFERS_PER_STAGE: usize = 8;
const MAX_UNIFORM_BUFFERS_PER_STAGE: usize = 12;
const MAX_UNIFORM_BUFFER_BINDING_SIZE: u32 = 65536;
const MAX_INVOCATIONS_PER_WORKGROUP: u32 = 256;
const MAX_WORKGROUP_SIZE: [u32; 3] = [256, 256, 64];

/// The source, module and validation info of one kernel at one workgroup size.
struct Kernel {
    name: &'static str,
    wg: u32,
    module: Module,
    info: ModuleInfo,
}

impl Kernel {
    fn label(&self) -> String {
        format!("{}.wgsl (WG = {})", self.name, self.wg)
    }
}

/// Parses and validates a kernel; the message of a failure names the kernel and quotes the
/// offending WGSL.
fn load(name: &'static str, wg: u32) -> Result<Kernel, String> {
    let source = kernel_source(name, &ShaderConstants::new(wg));
    let label = format!("{name}.wgsl (WG = {wg})");
    let module = naga::front::wgsl::parse_str(&source).map_err(|e| {
        let err = ShaderError {
            source: source.clone(),
            label: Some(label.clone()),
            inner: Box::new(e),
        };
        format!("{label}: WGSL parse failed: {err}")
    })?;
    // No optional capability at all: no f64, f16, subgroups, immediates (push constants),
    // float atomics, int64... So a kernel that Metal, DX12 or a browser would reject fails here.
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| {
            let err = ShaderError {
                source: source.clone(),
                label: Some(label.clone()),
                inner: Box::new(e),
            };
            format!("{label}: naga validation (no optional capabilities) failed: {err}")
        })?;
    Ok(Kernel {
        name,
        wg,
        module,
        info,
    })
}

fn to_spirv(k: &Kernel) -> Result<(), String> {
    let options = spv::Options::default();
    let words =
        spv::write_vec(&k.module, &k.info, &options, None).map_err(|e| format!("{e} ({e:?})"))?;
    if words.first() != Some(&0x0723_0203) {
        return Err("output does not start with the SPIR-V magic number".into());
    }
    Ok(())
}

fn to_msl(k: &Kernel, lang_version: (u8, u8)) -> Result<(), String> {
    let options = msl::Options {
        lang_version,
        ..msl::Options::default()
    };
    let (text, _) = msl::write_string(
        &k.module,
        &k.info,
        &options,
        &msl::PipelineOptions::default(),
    )
    .map_err(|e| format!("{e} ({e:?})"))?;
    if !text.contains("kernel") {
        return Err("output has no kernel function".into());
    }
    Ok(())
}

fn to_hlsl(k: &Kernel, shader_model: hlsl::ShaderModel) -> Result<(), String> {
    let options = hlsl::Options {
        shader_model,
        ..hlsl::Options::default()
    };
    let pipeline = hlsl::PipelineOptions::default();
    let mut text = String::new();
    let reflection = hlsl::Writer::new(&mut text, &options, &pipeline)
        .write(&k.module, &k.info, None)
        .map_err(|e| format!("{e} ({e:?})"))?;
    for ep in reflection.entry_point_names {
        ep.map_err(|e| format!("entry point: {e} ({e:?})"))?;
    }
    if !text.contains("[numthreads(") {
        return Err("output has no [numthreads] entry point".into());
    }
    Ok(())
}

fn to_glsl(k: &Kernel, version: glsl::Version) -> Result<(), String> {
    let ep = &k.module.entry_points[0];
    // Explicit bindings as wgpu's GL backend assigns them: one counter per buffer kind.
    let mut binding_map = glsl::BindingMap::default();
    let (mut uniforms, mut storages) = (0u8, 0u8);
    for (_, var) in k.module.global_variables.iter() {
        if let Some(br) = var.binding {
            let slot = match var.space {
                AddressSpace::Uniform => &mut uniforms,
                _ => &mut storages,
            };
            binding_map.insert(br, *slot);
            *slot += 1;
        }
    }
    let options = glsl::Options {
        version,
        binding_map,
        ..glsl::Options::default()
    };
    let pipeline = glsl::PipelineOptions {
        shader_stage: ep.stage,
        entry_point: ep.name.clone(),
        multiview: None,
    };
    let mut text = String::new();
    glsl::Writer::new(
        &mut text,
        &k.module,
        &k.info,
        &options,
        &pipeline,
        naga::proc::BoundsCheckPolicies::default(),
    )
    .and_then(|mut w| w.write())
    .map_err(|e| format!("{e} ({e:?})"))?;
    if !text.contains("local_size_x") {
        return Err("output has no compute layout".into());
    }
    Ok(())
}

#[test]
fn every_kernel_validates_and_translates_to_all_backends() {
    let mut failures = Vec::new();
    for name in ALL_KERNELS {
        for wg in WORKGROUP_SIZES {
            let k = match load(name, wg) {
                Ok(k) => k,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            assert_eq!(
                k.module.entry_points.len(),
                1,
                "{}: expected one entry point",
                k.label()
            );
            let targets: [(&str, Result<(), String>); 7] = [
                ("SPIR-V 1.0 (Vulkan)", to_spirv(&k)),
                ("MSL 2.1 (Metal)", to_msl(&k, (2, 1))),
                ("MSL 3.0 (Metal)", to_msl(&k, (3, 0))),
                (
                    "HLSL SM 5.1 (DX12/FXC)",
                    to_hlsl(&k, hlsl::ShaderModel::V5_1),
                ),
                (
                    "HLSL SM 6.0 (DX12/DXC)",
                    to_hlsl(&k, hlsl::ShaderModel::V6_0),
                ),
                (
                    "GLSL 310 es (GLES)",
                    to_glsl(&k, glsl::Version::new_gles(310)),
                ),
                (
                    "GLSL 430 core (GL)",
                    to_glsl(&k, glsl::Version::Desktop(430)),
                ),
            ];
            for (target, result) in targets {
                if let Err(e) = result {
                    failures.push(format!(
                        "{}: translation to {target} failed: {e}",
                        k.label()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn kernels_fit_webgpu_default_limits() {
    let mut failures = Vec::new();
    for name in ALL_KERNELS {
        for wg in WORKGROUP_SIZES {
            let k = load(name, wg).unwrap_or_else(|e| panic!("{e}"));
            let label = k.label();
            let mut layouter = naga::proc::Layouter::default();
            layouter
                .update(k.module.to_ctx())
                .unwrap_or_else(|e| panic!("{label}: layouter failed: {e}"));

            let (mut storage, mut uniform, mut workgroup_bytes) = (Vec::new(), Vec::new(), 0u32);
            for (_, var) in k.module.global_variables.iter() {
                let var_name = var.name.as_deref().unwrap_or("?");
                match var.space {
                    AddressSpace::Storage { .. } => storage.push(var_name),
                    AddressSpace::Uniform => {
                        uniform.push(var_name);
                        let size = layouter[var.ty].size;
                        if size > MAX_UNIFORM_BUFFER_BINDING_SIZE {
                            failures.push(format!(
                                "{label}: uniform `{var_name}` is {size} bytes > {MAX_UNIFORM_BUFFER_BINDING_SIZE}"
                            ));
                        }
                    }
                    AddressSpace::WorkGroup => workgroup_bytes += layouter[var.ty].size,
                    _ => {}
                }
            }
            if storage.len() > MAX_STORAGE_BUFFERS_PER_STAGE {
                failures.push(format!(
                    "{label}: {} storage buffers {storage:?} > WebGPU default max_storage_buffers_per_shader_stage {}",
                    storage.len(),
                    MAX_STORAGE_BUFFERS_PER_STAGE
                ));
            }
            if uniform.len() > MAX_UNIFORM_BUFFERS_PER_STAGE {
                failures.push(format!(
                    "{label}: {} uniform buffers {uniform:?} > WebGPU default max_uniform_buffers_per_shader_stage {}",
                    uniform.len(),
                    MAX_UNIFORM_BUFFERS_PER_STAGE
                ));
            }
            if workgroup_bytes > MAX_WORKGROUP_STORAGE_BYTES {
                failures.push(format!(
                    "{label}: {workgroup_bytes} bytes of workgroup memory > WebGPU default \
                     max_compute_workgroup_storage_size {MAX_WORKGROUP_STORAGE_BYTES}"
                ));
            }
            for ep in &k.module.entry_points {
                let size = ep.workgroup_size;
                let invocations: u32 = size.iter().product();
                if invocations > MAX_INVOCATIONS_PER_WORKGROUP {
                    failures.push(format!(
                        "{label}: entry point `{}` has {invocations} invocations per workgroup > {}",
                        ep.name, MAX_INVOCATIONS_PER_WORKGROUP
                    ));
                }
                if size.iter().zip(MAX_WORKGROUP_SIZE).any(|(&s, max)| s > max) {
                    failures.push(format!(
                        "{label}: entry point `{}` workgroup size {size:?} exceeds {MAX_WORKGROUP_SIZE:?}",
                        ep.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Name, size and fields of a struct shared with WGSL, from its Rust declaration.
fn shared<T: WgslStruct>() -> (&'static str, usize, Vec<WgslField>) {
    (T::NAME, size_of::<T>(), T::fields())
}

/// The WGSL structs are generated from the Rust ones (`lsnn_gpu::wgsl`), so names and order agree
/// by construction; what generation cannot promise is that WGSL lays them out as
/// `#[repr(C)]` does (a vec4 is 16-byte aligned in WGSL). naga's layouter decides.
#[test]
fn generated_uniform_structs_have_the_rust_layout() {
    let structs = [
        shared::<Dims>(),
        shared::<StepUniform>(),
        shared::<Chunk>(),
        shared::<RewireUniform>(),
    ];
    // Every kernel compiles the prelude; a kernel that shadowed or redeclared a struct would
    // show here (or fail to parse).
    for name in ALL_KERNELS {
        let k = load(name, 64).unwrap_or_else(|e| panic!("{e}"));
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(k.module.to_ctx()).unwrap();
        for (struct_name, rust_size, fields) in &structs {
            let (handle, ty) = k
                .module
                .types
                .iter()
                .find(|(_, t)| t.name.as_deref() == Some(*struct_name))
                .unwrap_or_else(|| panic!("{name}: no WGSL struct {struct_name}"));
            let TypeInner::Struct { members, .. } = &ty.inner else {
                panic!("{name}: {struct_name} is not a struct");
            };
            let wgsl_size = layouter[handle].size as usize;
            assert_eq!(
                *rust_size, wgsl_size,
                "{name}: size_of::<{struct_name}>() = {rust_size} but WGSL {struct_name} is {wgsl_size} bytes"
            );
            assert_eq!(
                rust_size % 16,
                0,
                "{struct_name}: uniform size should be a multiple of 16"
            );
            assert_eq!(members.len(), fields.len(), "{name}: {struct_name}");
            for (m, f) in members.iter().zip(fields) {
                assert_eq!(m.name.as_deref(), Some(f.name), "{name}: {struct_name}");
                assert_eq!(
                    m.offset as usize, f.offset,
                    "{name}: {struct_name}.{} is at WGSL offset {} but Rust offset {}",
                    f.name, m.offset, f.offset
                );
            }
        }
    }
}
