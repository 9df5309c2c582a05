package engine

import "math"

// The 478-point layout of Face.Landmarks: MediaPipe's refined mesh
// (models.AttentionRefinement), with FaceMesh v1's 468 points in front.
const (
	// NumMeshLandmarks is the FaceMesh model's point count: Face.Landmarks
	// [0, NumMeshLandmarks) are the mesh vertices.
	NumMeshLandmarks = 468
	// NumIrisLandmarks is the points per iris: centre first, then four on
	// the iris boundary.
	NumIrisLandmarks = 5
	// NumLandmarks is the length of Face.Landmarks: the mesh, then the iris
	// of the first eye (around mesh 33/133, image left on a frontal face)
	// as 468–472 and of the second (around 362/263) as 473–477, the layout
	// of MediaPipe's refined mesh and Face Landmarker.
	NumLandmarks = NumMeshLandmarks + 2*NumIrisLandmarks
)

// irisMirrorOrder maps an iris's points to their mirror images on the other
// eye: the centre and the top and bottom points stay, the ±x boundary
// points swap (the refined mesh orders both irises by image direction:
// 469/474 on the +x side, 471/476 on −x; checked on
// testdata/oracle/*.refine.json).
var irisMirrorOrder = [NumIrisLandmarks]int{0, 3, 2, 1, 4}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }
