// Package geometry turns the 468 FaceMesh landmarks of one face into 3D
// outputs: a head pose fitted to MediaPipe's canonical face model, a metric
// face mesh with UVs and normals (OBJ/MTL and binary glTF), and image-space
// depth and normal maps.
//
// # Frames
//
//   - Landmarks: image pixels, x right, y down, z on the same scale as x,
//     smaller z = nearer the camera (MediaPipe's convention).
//   - Canonical model (facemesh.Mesh): centimetres, x right (the viewer's
//     right, i.e. the subject's left), y up, z towards the viewer.
//   - Camera frame: x right, y down, z forward (into the scene). Landmarks are
//     read as points of this frame, in pixels.
//
// Pose.Rotation maps model vectors into the camera frame, so it contains the
// fixed flip diag(1, -1, -1) between the y-up/z-towards-viewer model and the
// y-down/z-forward camera: an upright face looking into the camera has
// Rotation = diag(1, -1, -1) and Pitch = Yaw = Roll = 0. The weak-perspective
// projection is
//
//	landmark ≈ Scale·(Rotation·v + Translation) + (imgW/2, imgH/2, 0)
//
// so Translation is the model origin relative to the image centre, in cm;
// its z is relative to the landmarks' own depth origin (weak perspective has
// no absolute distance).
//
// # Angles
//
// With C = Rotation·diag(1, -1, -1) (the head's rotation in the camera frame,
// identity when upright and frontal) and Rx, Ry, Rz the right-handed
// rotations about the camera axes,
//
//	C = Ry(-Yaw) · Rx(-Pitch) · Rz(Roll)
//
// (yaw about the vertical axis first, then pitch, then roll, intrinsic). Signs:
// Yaw > 0 when the subject turns towards the image's right side, Pitch > 0
// when the subject looks up, Roll > 0 when the head tilts clockwise in the
// image. Angles are degrees.
//
// Accuracy: on perspective renders of the canonical mesh (50 cm away, with
// real face textures) whose landmarks come from the landmark model,
// FitPose's yaw is within 3.5° of the rendered yaw up to ±50° and its
// pitch within 9° (looking up while turned is the worst case; the model's
// landmarks, not the fit, carry most of that error) — see
// TestGroundTruthTexture in package pipeline, which prints the errors per
// pose.
//
// # Outputs
//
// MetricMesh positions are centimetres in the canonical model frame (y up,
// z towards the viewer), which is also glTF's frame; WriteGLB converts them
// to metres, glTF's unit, while WriteOBJ keeps centimetres. UVs follow
// MediaPipe (v = 0 at the top of the texture), which is glTF's convention;
// OBJ stores 1−v. RenderNormals encodes normals in the usual view-space
// normal-map frame (x right, y up, z towards the viewer) as (n+1)/2·255,
// so a surface facing the camera is (128, 128, 255).
package geometry
